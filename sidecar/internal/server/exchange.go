package server

import (
	"net/http"

	"github.com/jack-io/jack-operator/sidecar/internal/api"

	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

// exchange is one request's state on its way down the chain: what
// WithResolution decided the request is, and who WithAuthentication found
// it comes from. It is the ResponseWriter every step below withExchange
// gets, recording the status for WithMetrics: one allocation per request
// carries it all, where the request's context would cost two more (a
// context node and a copy of the request) on a path measured in
// microseconds.
type exchange struct {
	http.ResponseWriter
	status int

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
	// headers is what the request's header names claim, all together.
	headers headerClaims
	// resolved is true once WithResolution accepted the request.
	resolved bool

	// refusal is the code the request was refused with, if it was.
	refusal api.Code
	// bodyPending is true while the request may have a body nobody read.
	bodyPending bool

	// id is set by WithAuthentication when authenticated is true.
	id            Identity
	authenticated bool
}

// withExchange gives every request its exchange. It comes first in the
// chain, so every WithX below finds one.
func withExchange(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&exchange{ResponseWriter: w, bodyPending: r.ContentLength != 0}, r)
	})
}

// exchangeOf returns the request's exchange: the writer every handler of
// the chain gets. A nil here is a wiring mistake, caught by the tests.
func exchangeOf(w http.ResponseWriter) *exchange {
	ex, _ := w.(*exchange)
	return ex
}

func (ex *exchange) WriteHeader(code int) {
	if ex.status == 0 {
		ex.status = code
	}
	ex.ResponseWriter.WriteHeader(code)
}

func (ex *exchange) Write(b []byte) (int, error) {
	if ex.status == 0 {
		ex.status = http.StatusOK
	}
	return ex.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (read deadlines, flushes of
// streamed answers) reach the server's writer.
func (ex *exchange) Unwrap() http.ResponseWriter { return ex.ResponseWriter }

// refuse answers with e in the envelope and notes its code for the metrics.
// A refused request's body is never read: the connection is closed after
// the answer, because net/http would otherwise read what is left of the body
// before answering, and a client that declared a body and sends none would
// wait for the read deadline instead of getting its refusal at once.
func refuse(w http.ResponseWriter, e *api.Error) {
	if ex := exchangeOf(w); ex != nil {
		ex.refusal = e.Code
		if ex.bodyPending {
			w.Header().Set("Connection", "close")
		}
	}
	api.WriteError(w, e)
}
