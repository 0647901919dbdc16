package server

import (
	"net/http"
	"strings"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
)

// The names of api/jack, folded (see foldHeaderName) once.
var (
	identityFamilies = foldAll(jack.IdentityHeaderFamilies)
	notIdentity      = foldAll(jack.NotIdentityHeaders)
	identityNames    = foldAll(jack.ForeignIdentityHeaders)
)

func foldAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = foldHeaderName(n)
	}
	return out
}

// identityMatcher decides which request headers claim an identity.
type identityMatcher struct {
	names []string // lower case, "-" for "_"
	// anyStart is true when a configured name starts with something other
	// than the built-in names' "x" and "r".
	anyStart bool
}

func newIdentityMatcher(extra []string) identityMatcher {
	m := identityMatcher{names: append([]string(nil), identityNames...)}
	for _, h := range jack.IdentityHeaders {
		m.names = append(m.names, strings.ToLower(h))
	}
	for _, h := range extra {
		if h = strings.TrimSpace(h); h != "" {
			f := foldHeaderName(h)
			m.names = append(m.names, f)
			m.anyStart = m.anyStart || (f[0] != 'x' && f[0] != 'r')
		}
	}
	return m
}

// foldHeaderName is a header name as frameworks that read it compare it:
// case-insensitively, with "_" and "-" the same (CGI, Rack, PHP and Django
// turn both into "_"; some servers keep underscores).
func foldHeaderName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// claimsIdentity reports whether a header name is an identity header under
// any spelling. It runs for every header of every request: it allocates
// nothing and rejects most names by their first byte.
func (m identityMatcher) claimsIdentity(name string) bool {
	if name == "" {
		return false
	}
	if c := name[0] | 0x20; c != 'x' && c != 'r' && !m.anyStart {
		return false
	}
	for _, prefix := range identityFamilies {
		if len(name) >= len(prefix) && foldedEqual(name[:len(prefix)], prefix) {
			for _, n := range notIdentity {
				if foldedEqual(name, n) {
					return false
				}
			}
			return true
		}
	}
	for _, n := range m.names {
		if foldedEqual(name, n) {
			return true
		}
	}
	return false
}

// foldedEqual compares a header name with a folded one without allocating.
func foldedEqual(name, folded string) bool {
	if len(name) != len(folded) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != folded[i] {
			return false
		}
	}
	return true
}

var errForgedIdentity = &api.Error{Code: api.CodeForgedIdentity, Message: "The request carries an identity header (such as X-Jack-User-Id or X-Forwarded-User, in any spelling) " +
	"that only the sidecar sets; the gateway would pass it on to Jack, so the request is refused."}

// WithIdentityStripping makes sure that only the sidecar says who is
// calling, and that Jack routes the request it gets: headers naming another
// method or URL are removed from what the sidecar forwards too. A request the sidecar forwards itself loses every header that
// claims an identity, under any spelling. A request to /auth is about a
// request the gateway forwards, with whatever headers the client sent that
// the gateway does not replace; the sidecar cannot remove them there, so it
// refuses the request instead.
func WithIdentityStripping(m identityMatcher, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(w)
		// WithResolution looked at every header name once and noted what it
		// found; most requests carry nothing to strip.
		switch {
		case ex.headers&claimIdentity != 0 && ex.forward:
			refuse(w, errForgedIdentity)
			return
		case ex.headers&(claimIdentity|claimOriginal) != 0 && !ex.forward:
			for name := range r.Header {
				// Jack must route the request it gets, not one a header names.
				if m.kind(name)&(claimIdentity|claimOriginal) != 0 {
					delete(r.Header, name)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// headerClaims say what a request's header names claim, one bit a kind.
type headerClaims uint8

const (
	// claimIdentity: who is calling (see claimsIdentity).
	claimIdentity headerClaims = 1 << iota
	// claimOriginal: another method or URL (jack.OriginalRequestHeaders).
	claimOriginal
	// claimOverride: another method (jack.MethodOverrideHeaders).
	claimOverride
	// claimCredential: a credential beside Authorization
	// (jack.CredentialHeaders).
	claimCredential
	// claimOtherMethod: a method override naming another method than the
	// request's (set by WithResolution, which knows the method).
	claimOtherMethod
)

// kind is what a header name claims, under any spelling. It runs for every
// header of every request, so names are sorted out by their first byte.
func (m identityMatcher) kind(name string) headerClaims {
	if name == "" {
		return 0
	}
	var k headerClaims
	c := name[0] | 0x20
	if (c == 'x' || c == 'r' || m.anyStart) && m.claimsIdentity(name) {
		k |= claimIdentity
	}
	switch c {
	case 'x':
		if claimsOriginal(name) {
			k |= claimOriginal
		}
		for _, o := range methodOverrideHeaders {
			if foldedEqual(name, o) {
				k |= claimOverride
			}
		}
		fallthrough
	case 'a':
		for _, o := range credentialHeaders {
			if foldedEqual(name, o) {
				k |= claimCredential
			}
		}
	}
	return k
}
