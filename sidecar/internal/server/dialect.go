package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
)

// Dialect is how a gateway tells /auth which request it is asking about;
// the names are api/jack's, shared with the webhook that sets --forward-auth.
type Dialect = jack.ForwardAuthDialect

// The dialects, under the names this package's readers expect.
const (
	// DialectAuto takes whichever single dialect a request carries and
	// refuses a request carrying more than one.
	DialectAuto = jack.ForwardAuthAuto
	// DialectNginx: X-Original-Method and X-Original-URI (nginx
	// auth_request with proxy_set_header), or X-Original-URL, a full URL
	// (ingress-nginx).
	DialectNginx = jack.ForwardAuthNginx
	// DialectTraefik: X-Forwarded-Method and X-Forwarded-Uri (Traefik
	// forwardAuth, which overwrites both on every request).
	DialectTraefik = jack.ForwardAuthTraefik
	// DialectEnvoy: the original path and query appended to /auth, with the
	// original method (Envoy ext_authz's HTTP service with path_prefix
	// /auth; Envoy Gateway, Istio and Gateway API's ExternalAuth send the
	// same).
	DialectEnvoy = jack.ForwardAuthEnvoy
)

// ParseDialect reads a --forward-auth value.
func ParseDialect(s string) (Dialect, error) {
	for _, d := range jack.ForwardAuthDialects {
		if string(d) == s {
			return d, nil
		}
	}
	return "", fmt.Errorf("%q is not a forward-auth dialect; use auto, nginx, traefik or envoy", s)
}

// The dialects' header names, in Go's canonical form (which is how the
// server stores incoming names).
const (
	headerOriginalMethod  = "X-Original-Method"
	headerOriginalURI     = "X-Original-Uri"
	headerOriginalURL     = "X-Original-Url"
	headerForwardedMethod = "X-Forwarded-Method"
	headerForwardedURI    = "X-Forwarded-Uri"
)

var (
	errNoOriginal = &api.Error{Code: api.CodeBadRequest, Message: "The request to /auth does not say which request it is about: " +
		"send X-Original-Method and X-Original-URI (nginx), X-Forwarded-Method and X-Forwarded-Uri (Traefik), " +
		"or the original path after /auth (Envoy)."}
	errMixedDialects = &api.Error{Code: api.CodeAmbiguousRequest, Message: "The request to /auth describes the original request in more than one way " +
		"(headers of several gateways, or a path after /auth beside them); set --forward-auth to the gateway in front of the sidecar."}
	errRepeatedOriginal = &api.Error{Code: api.CodeAmbiguousRequest, Message: "The request to /auth names the original method or URI more than once."}
	errForeignOriginal  = &api.Error{Code: api.CodeAmbiguousRequest, Message: "The request to /auth carries a header naming another method or URL " +
		"(X-Original-URL, X-Rewrite-URL, another gateway's headers, or any of them spelled with underscores) than the gateway's own; " +
		"Jack could route by it, so the request is refused."}
	errBadOriginalURI  = &api.Error{Code: api.CodeBadRequest, Message: "The original request's URI is not a path Jack serves."}
	errBadOriginalVerb = &api.Error{Code: api.CodeBadRequest, Message: "The original request's method is not an HTTP method."}
)

// dialectErrors are the errors that name what a configured dialect needs,
// built once.
var dialectErrors = map[Dialect]*api.Error{
	DialectNginx: {Code: api.CodeBadRequest, Message: "With --forward-auth=nginx, /auth needs X-Original-Method and one of X-Original-URI or X-Original-URL, and no path after /auth " +
		"(proxy_set_header X-Original-Method $request_method; proxy_set_header X-Original-URI $request_uri)."},
	DialectTraefik: {Code: api.CodeBadRequest, Message: "With --forward-auth=traefik, /auth needs X-Forwarded-Method and X-Forwarded-Uri, and no path after /auth."},
	DialectEnvoy:   {Code: api.CodeBadRequest, Message: "With --forward-auth=envoy, /auth needs the original path after it (ext_authz path_prefix /auth)."},
}

// originalRequest finds the method and request URI (path and query, still
// escaped) that a gateway asks /auth about, from exactly one source: the
// configured dialect, or under DialectAuto the one dialect the request
// carries. Any of the headers read repeated is refused, since a gateway
// sets each once and "the first one wins" may not be what it forwards.
func originalRequest(d Dialect, r *http.Request) (dialect Dialect, method, uri string, e *api.Error) {
	h := r.Header
	path, query, hasQuery := strings.Cut(requestTarget(r), "?")
	suffix := strings.TrimPrefix(path, ForwardAuthPath)
	if d == DialectAuto {
		n := 0
		if present(h, headerOriginalMethod, headerOriginalURI, headerOriginalURL) {
			n, d = n+1, DialectNginx
		}
		if present(h, headerForwardedMethod, headerForwardedURI) {
			n, d = n+1, DialectTraefik
		}
		if suffix != "" {
			n, d = n+1, DialectEnvoy
		}
		switch {
		case n == 0:
			return d, "", "", errNoOriginal
		case n > 1:
			return d, "", "", errMixedDialects
		}
	}
	switch d {
	case DialectNginx:
		if suffix != "" {
			return d, "", "", dialectErrors[d]
		}
		method, e = single(h, headerOriginalMethod, d)
		if e != nil {
			return d, "", "", e
		}
		uris, urls := h[headerOriginalURI], h[headerOriginalURL]
		switch {
		case len(uris)+len(urls) == 0:
			return d, "", "", dialectErrors[d]
		case len(uris)+len(urls) > 1:
			return d, "", "", errRepeatedOriginal
		case len(uris) == 1:
			uri = uris[0]
		default:
			u, err := url.Parse(urls[0])
			if err != nil || !u.IsAbs() || u.Opaque != "" {
				return d, "", "", errBadOriginalURI
			}
			uri = u.EscapedPath()
			if u.RawQuery != "" {
				uri += "?" + u.RawQuery
			}
		}
	case DialectTraefik:
		if suffix != "" {
			return d, "", "", dialectErrors[d]
		}
		if method, e = single(h, headerForwardedMethod, d); e != nil {
			return d, "", "", e
		}
		if uri, e = single(h, headerForwardedURI, d); e != nil {
			return d, "", "", e
		}
	case DialectEnvoy:
		if suffix == "" || suffix[0] != '/' {
			return d, "", "", dialectErrors[d]
		}
		method, uri = r.Method, suffix
		if hasQuery {
			uri += "?" + query
		}
	}
	if !isToken(method) {
		return d, "", "", errBadOriginalVerb
	}
	return d, method, uri, nil
}

// originalHeaders are jack.OriginalRequestHeaders, folded.
var originalHeaders = foldAll(jack.OriginalRequestHeaders)

// claimsOriginal reports whether a header name, in any spelling, names a
// request's method or URL.
func claimsOriginal(name string) bool {
	if name == "" || name[0]|0x20 != 'x' {
		return false
	}
	for _, o := range originalHeaders {
		if foldedEqual(name, o) {
			return true
		}
	}
	return false
}

// dialectOwn reports whether a header, spelled exactly so, is one the
// dialect reads. Any other header naming a method or URL at /auth is
// foreign: the gateway passes it on to Jack, which may route by it (PHP,
// Rack and Django read X_Original_URL as X-Original-URL).
func dialectOwn(d Dialect, name string) bool {
	switch d {
	case DialectNginx:
		return name == headerOriginalMethod || name == headerOriginalURI || name == headerOriginalURL
	case DialectTraefik:
		return name == headerForwardedMethod || name == headerForwardedURI
	}
	return false
}

// present reports whether any of the headers is there, even empty.
func present(h http.Header, names ...string) bool {
	for _, n := range names {
		if _, ok := h[n]; ok {
			return true
		}
	}
	return false
}

// single is the one value of a header a dialect needs.
func single(h http.Header, name string, d Dialect) (string, *api.Error) {
	switch v := h[name]; len(v) {
	case 0:
		return "", dialectErrors[d]
	case 1:
		if v[0] == "" {
			return "", dialectErrors[d]
		}
		return v[0], nil
	default:
		return "", errRepeatedOriginal
	}
}

// isToken reports whether s is an HTTP method: a token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

var tokenChar = func() (set [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~" {
		set[c] = true
	}
	return set
}()

// requestTarget is the request-target exactly as the client sent it (for
// requests a server read), never re-escaped from a decoded path.
func requestTarget(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}
