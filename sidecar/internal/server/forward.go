package server

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/policy"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
)

// ForwardAuthPath is where proxies ask whether a request may pass.
const ForwardAuthPath = "/auth"

// apiPrefix is the part of Jack that needs a token; auth endpoints aside.
const (
	apiPrefix   = "/api/v1/"
	authPrefix  = "/api/v1/auth/"
	loginPath   = "/api/v1/auth/login"
	refreshPath = "/api/v1/auth/refresh"
	logoutPath  = "/api/v1/auth/logout"
)

var errBadOriginal = &api.Error{Code: api.CodeBadRequest, Message: "The original request's URI is missing or is not a path Jack serves."}

// originalRequest finds the method and URI of the request a proxy is asking
// about, in the dialects of nginx (X-Original-Method, X-Original-URI or
// X-Original-URL), Traefik (X-Forwarded-Method, X-Forwarded-Uri) and Envoy's
// ext_authz (the original path appended to /auth, with its method).
func originalRequest(r *http.Request) (method, escapedPath string, ok bool) {
	h := r.Header
	method = firstNonEmpty(header(h, "X-Original-Method"), header(h, "X-Forwarded-Method"), r.Method)
	uri := firstNonEmpty(header(h, "X-Original-Uri"), header(h, "X-Forwarded-Uri"))
	if uri == "" {
		if full := header(h, "X-Original-Url"); full != "" {
			u, err := url.Parse(full)
			if err != nil {
				return "", "", false
			}
			uri = u.EscapedPath()
		}
	}
	if uri == "" {
		rest := strings.TrimPrefix(r.URL.EscapedPath(), ForwardAuthPath)
		if rest == "" || rest[0] != '/' {
			return "", "", false
		}
		uri = rest
	}
	path, _, _ := strings.Cut(uri, "?")
	path, ok = policy.NormalizePath(path)
	return method, path, ok
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// forwardAuth answers a proxy: 200 with the identity headers when the
// original request may pass, else the JSON error with its status.
func (s *Server) forwardAuth(w http.ResponseWriter, r *http.Request) {
	method, path, ok := originalRequest(r)
	if !ok {
		api.WriteError(w, errBadOriginal)
		return
	}
	if !needsToken(path) {
		w.WriteHeader(http.StatusOK)
		return
	}
	id, apiErr := s.authorize(r, method, path)
	if apiErr != nil {
		api.WriteError(w, apiErr)
		return
	}
	setIdentity(w.Header(), id)
	w.WriteHeader(http.StatusOK)
}

// needsToken is false for what Jack serves to anyone: the login, and
// whatever is outside its API (the web app's assets).
func needsToken(path string) bool {
	return (strings.HasPrefix(path, apiPrefix) || path == strings.TrimSuffix(apiPrefix, "/")) && path != loginPath
}

// authorize verifies the token and asks the policy about method and path.
func (s *Server) authorize(r *http.Request, method, path string) (*Identity, *api.Error) {
	id, apiErr := s.authenticate(r)
	if apiErr != nil {
		return nil, apiErr
	}
	if !s.src.Policy().Allowed(id.User.Role, method, path) {
		s.metrics.forbidden.Inc()
		return nil, &api.Error{Code: api.CodeForbidden, Message: "Your role (" + string(id.User.Role) + ") may not " + method + " " + path + "."}
	}
	return id, nil
}

// setIdentity sets the identity headers. The names are already in canonical
// form, so the map is written directly, with one allocation for all values:
// this runs on every request.
func setIdentity(h http.Header, id *Identity) {
	v := [...]string{id.User.ID, id.User.Email, string(id.User.Role)}
	vals := v[:]
	h[jack.HeaderUserID] = vals[0:1:1]
	h[jack.HeaderUserEmail] = vals[1:2:2]
	h[jack.HeaderUserRole] = vals[2:3:3]
	h[jack.HeaderAuthRequestUser] = vals[0:1:1]
	h[jack.HeaderAuthRequestEmail] = vals[1:2:2]
}

// stripIdentity removes identity headers a client sent: only the sidecar
// says who is calling. Go's server canonicalizes incoming names, so every
// spelling a client may use is caught here.
func stripIdentity(h http.Header) {
	for _, name := range jack.IdentityHeaders {
		delete(h, name)
	}
}

// newProxy forwards verified requests to Jack with the identity headers.
func (s *Server) newProxy(upstream *url.URL) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
			stripIdentity(pr.Out.Header)
			if id, ok := IdentityFrom(pr.In.Context()); ok {
				setIdentity(pr.Out.Header, id)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Error(err, "forwarding to Jack", "path", r.URL.Path)
			api.WriteError(w, &api.Error{Code: api.CodeUpstreamUnavailable, Message: "Jack is not answering."})
		},
	}
}

// proxy verifies and authorizes everything under the API before forwarding it.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) {
	if s.upstream == nil {
		api.WriteError(w, &api.Error{Code: api.CodeNotFound, Message: "Nothing is served at " + r.URL.Path + "."})
		return
	}
	path, ok := policy.NormalizePath(r.URL.EscapedPath())
	if !ok {
		api.WriteError(w, &api.Error{Code: api.CodeBadRequest, Message: "The request path is not one Jack serves."})
		return
	}
	if needsToken(path) {
		id, apiErr := s.authorize(r, r.Method, path)
		if apiErr != nil {
			api.WriteError(w, apiErr)
			return
		}
		r = r.WithContext(withIdentity(r.Context(), id))
	}
	s.upstream.ServeHTTP(w, r)
}
