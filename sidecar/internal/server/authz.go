package server

import (
	"net/http"

	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

// WithAuthorization asks the role policy about every request for the API,
// with the method and path WithResolution decided on and the role the user
// has now. The auth API needs no rule: every role may refresh and log out
// its own token.
func WithAuthorization(src Source, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(w)
		if ex.area == policy.AreaAPI && !src.Policy().Allowed(ex.id.User.Role, ex.method, ex.path) {
			m.forbidden.Inc()
			refuse(w, &api.Error{Code: api.CodeForbidden, Message: "Your role (" + string(ex.id.User.Role) + ") may not " + ex.method + " " + ex.path + "."})
			return
		}
		next.ServeHTTP(w, r)
	})
}
