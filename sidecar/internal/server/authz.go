package server

import (
	"net/http"

	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/apikeys"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

// WithAuthorization asks the role policy about every request for the API,
// with the method and path WithResolution decided on and the role the user
// (or API key) has now; an API key must also list the route in its
// spec.routes, when it has any. The auth API needs no rule: every role may
// refresh and log out its own token.
//
// keyRefused, when set, is told of an API key refused here (for its
// metrics and audit log).
func WithAuthorization(src Source, m *metrics, keyRefused func(*apikeys.Key, apikeys.Outcome, *exchange), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(w)
		if ex.area != policy.AreaAPI {
			next.ServeHTTP(w, r)
			return
		}
		e := (*api.Error)(nil)
		if !src.Policy().Allowed(ex.id.User.Role, ex.method, ex.path) {
			e = &api.Error{Code: api.CodeForbidden, Message: "Your role (" + string(ex.id.User.Role) + ") may not " + ex.method + " " + ex.path + "."}
		} else if k := ex.id.Key; k != nil {
			e = authorizeAPIKey(k, ex.method, ex.path)
		}
		if e != nil {
			m.forbidden.Inc()
			if k := ex.id.Key; k != nil && keyRefused != nil {
				keyRefused(k, apikeys.Forbidden, ex)
			}
			refuse(w, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}
