package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

// ForwardAuthPath is where gateways ask whether a request may pass.
const ForwardAuthPath = "/auth"

// Resolution is what WithResolution needs to know about the sidecar's
// place in front of Jack.
type Resolution struct {
	// Dialect is how gateways describe the original request to /auth.
	Dialect Dialect
	// Trusted are the gateways whose forwarded headers are believed. Set,
	// /auth answers only them.
	Trusted TrustedProxies
	// Proxy is true when the sidecar forwards to Jack; without, it answers
	// only the auth API and /auth.
	Proxy bool
	// identity tells which header names claim an identity.
	identity identityMatcher
}

// The refusals of WithResolution.
var (
	errBadPath = &api.Error{Code: api.CodeBadRequest, Message: "The request path is not one Jack serves: " +
		"dot segments, empty segments, encoded slashes, backslashes, dots or letters and \";\" are refused, since servers disagree on what they name."}
	errUntrustedProxy = &api.Error{Code: api.CodeUntrustedProxy, Message: "Only the gateways in --trusted-proxies may ask /auth."}
	errMisdirected    = &api.Error{Code: api.CodeMisdirectedRequest, Message: "The auth API (/api/v1/auth/) is answered by the sidecar itself: " +
		"the gateway must route it to the sidecar, not ask /auth about it and send it to Jack."}
	errMethodOverride = &api.Error{Code: api.CodeAmbiguousRequest, Message: "The request names another method in a method-override header or a _method parameter; " +
		"send the method itself."}
	errTwoAuthorizations = &api.Error{Code: api.CodeAmbiguousCredentials, Message: "The request has more than one Authorization header or credential; send exactly one: Authorization: Bearer <token>."}
	errTwoCredentials    = &api.Error{Code: api.CodeAmbiguousCredentials, Message: "The request has a bearer token and another credential header (such as X-Api-Key or X-Auth-Token); send only the Authorization header."}
	errTokenInURL        = &api.Error{Code: api.CodeAmbiguousCredentials, Message: "Tokens never travel in URLs: remove access_token from the query and send Authorization: Bearer <token>."}
	errNoUpstream        = &api.Error{Code: api.CodeNotFound, Message: "This sidecar answers only the auth API and /auth: it forwards nothing to Jack (no --upstream)."}
	errOnlyPost          = &api.Error{Code: api.CodeMethodNotAllowed, Message: "The auth API's login, refresh and logout only accept POST.", Allow: http.MethodPost}
)

// methodOverrideHeaders and credentialHeaders are compared folded (see
// foldHeaderName): frameworks read them under any spelling.
var (
	methodOverrideHeaders = foldAll(jack.MethodOverrideHeaders)
	credentialHeaders     = foldAll(jack.CredentialHeaders)
)

// WithResolution decides what a request is about before anything else
// looks at it: for /auth, the original request a gateway describes in its
// dialect; the normalized path and its area; the client's address; the one
// credential. Everything ambiguous is refused here, so that the request the
// sidecar decides on is exactly the one Jack will serve.
func WithResolution(c Resolution, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(w)
		if e := c.resolve(ex, r); e != nil {
			refuse(w, e)
			return
		}
		ex.resolved = true
		next.ServeHTTP(w, r)
	})
}

func (c Resolution) resolve(ex *exchange, r *http.Request) *api.Error {
	target := requestTarget(r)
	path, _, _ := strings.Cut(target, "?")
	var fromProxy bool
	ex.client, fromProxy = c.Trusted.clientAddress(r)
	method, uri, d := r.Method, target, c.Dialect
	if path == ForwardAuthPath || strings.HasPrefix(path, ForwardAuthPath+"/") {
		ex.forward = true
		if len(c.Trusted) > 0 && !fromProxy {
			return errUntrustedProxy
		}
		var e *api.Error
		if d, method, uri, e = originalRequest(c.Dialect, r); e != nil {
			return e
		}
	}
	// One look at every header name, for this step and the next.
	var foreign bool
	for name, vals := range r.Header {
		k := c.identity.kind(name)
		if k == 0 {
			continue
		}
		if k&claimOriginal != 0 && ex.forward && !dialectOwn(d, name) {
			foreign = true
		}
		if k&claimOverride != 0 && (len(vals) != 1 || vals[0] != method) {
			k |= claimOtherMethod
		}
		ex.headers |= k
	}
	if foreign {
		return errForeignOriginal
	}
	normalized, ok := policy.NormalizePath(uri)
	if !ok {
		if ex.forward {
			return errBadOriginalURI
		}
		return errBadPath
	}
	ex.method, ex.path, ex.area = method, normalized, policy.Classify(normalized)
	// Tokens never travel in URLs, inside the API or out.
	_, query, _ := strings.Cut(uri, "?")
	if query != "" && queryHas(query, "access_token") {
		return errTokenInURL
	}
	switch ex.area {
	case policy.AreaPublic:
		if !ex.forward && !c.Proxy {
			return errNoUpstream
		}
		return nil
	case policy.AreaAPI:
		if !ex.forward && !c.Proxy {
			return errNoUpstream
		}
	case policy.AreaLogin, policy.AreaRefresh, policy.AreaLogout, policy.AreaAuthOther:
		if ex.forward {
			return errMisdirected
		}
		if ex.area != policy.AreaAuthOther && method != http.MethodPost {
			return errOnlyPost
		}
	}
	return ex.readCredentials(r.Header, query)
}

// readCredentials takes the one credential of a request bound for the API,
// and refuses every way of naming a second one, or a second method.
func (ex *exchange) readCredentials(h http.Header, query string) *api.Error {
	if query != "" && queryHas(query, "_method") || ex.headers&claimOtherMethod != 0 {
		return errMethodOverride
	}
	auth := h["Authorization"]
	switch {
	case len(auth) > 1:
		return errTwoAuthorizations
	case len(auth) == 1:
		if strings.IndexByte(auth[0], ',') >= 0 {
			return errTwoAuthorizations
		}
		if ex.headers&claimCredential != 0 {
			return errTwoCredentials
		}
		ex.credential = auth[0]
	}
	return nil
}

// queryHas reports whether a raw query has the parameter key, in any
// encoding of its name, alone or as an array (key[]=…, key[0]=…), as
// servers that parse such names read them.
func queryHas(query, key string) bool {
	if !strings.Contains(query, key) && strings.IndexByte(query, '%') < 0 && strings.IndexByte(query, '+') < 0 {
		return false
	}
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if i := strings.IndexByte(pair, ';'); i >= 0 {
			// Some servers also split on ";".
			query = pair[i+1:] + "&" + query
			pair = pair[:i]
		}
		name, _, _ := strings.Cut(pair, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		if name == key || strings.HasPrefix(name, key+"[") {
			return true
		}
	}
	return false
}
