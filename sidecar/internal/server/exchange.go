package server

import (
	"context"
	"net/http"

	"github.com/jack-io/jack-operator/internal/policy"
)

// exchange is one request's state on its way down the chain: what
// WithResolution decided the request is, and who WithAuthentication found
// it comes from. It is allocated once per request, with the status recorder
// WithMetrics needs, and travels in the request's context.
type exchange struct {
	// forward is true when a gateway asks /auth about another request; the
	// fields below then describe that other request.
	forward bool
	// method and path are what is decided on: the method, and the escaped
	// path as NormalizePath returned it (query cut off, case kept).
	method string
	path   string
	area   policy.Area
	// client is the address the request comes from: the connecting address,
	// or the one a trusted proxy reports.
	client string
	// credential is the Authorization header's value, "" when there is none.
	credential string
	// resolved is true once WithResolution accepted the request.
	resolved bool

	// id is set by WithAuthentication when authenticated is true.
	id            Identity
	authenticated bool

	rec statusRecorder
}

type exchangeKey struct{}

// withExchange gives every request its exchange. It comes first in the
// chain, so every WithX below finds one.
func withExchange(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &exchange{}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)))
	})
}

// exchangeOf returns the request's exchange. Every handler of the chain runs
// below withExchange; a nil here is a wiring mistake, caught by the tests.
func exchangeOf(r *http.Request) *exchange {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	return ex
}

// IdentityFrom returns the identity a request was verified as, if any.
func IdentityFrom(ctx context.Context) (*Identity, bool) {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	if ex == nil || !ex.authenticated {
		return nil, false
	}
	return &ex.id, true
}
