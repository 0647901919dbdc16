package gateways

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/jack-io/jack-operator/api/jack"
)

// This file holds what every answer through a gateway must satisfy,
// written from the contract (DESIGN.md, the default policy), not from the
// sidecar's code, so a test can hold the sidecar and the gateway to it for
// any request an attacker may think of.

// statusOf is the status of each error code of the contract.
var statusOf = map[string]int{
	"INVALID_CREDENTIALS": 401, "TOKEN_EXPIRED": 401, "TOKEN_INVALID": 401, "TOKEN_MISSING": 401,
	"FORBIDDEN": 403, "UNTRUSTED_PROXY": 403,
	"BAD_REQUEST": 400, "VALIDATION_ERROR": 400, "AMBIGUOUS_REQUEST": 400, "AMBIGUOUS_CREDENTIALS": 400, "FORGED_IDENTITY": 400,
	"NOT_FOUND": 404, "METHOD_NOT_ALLOWED": 405, "PAYLOAD_TOO_LARGE": 413, "UNSUPPORTED_MEDIA_TYPE": 415,
	"MISDIRECTED_REQUEST": 421, "TOO_MANY_REQUESTS": 429,
	"INTERNAL_ERROR": 500, "UPSTREAM_UNAVAILABLE": 502, "SERVICE_UNAVAILABLE": 503,
}

// foldName is a header name as a framework may read it: lower case, "_"
// read as "-".
func foldName(name string) string { return strings.ReplaceAll(strings.ToLower(name), "_", "-") }

// identityLike reports whether a header name claims an identity under some
// proxy's or framework's convention, in any spelling.
func identityLike(name string) bool {
	f := foldName(name)
	if f == "x-auth-request-redirect" { // oauth2-proxy's redirect target: no identity
		return false
	}
	if strings.HasPrefix(f, "x-jack-user-") || strings.HasPrefix(f, "x-auth-request-") {
		return true
	}
	switch f {
	case "x-forwarded-user", "x-forwarded-email", "x-forwarded-preferred-username", "x-forwarded-groups",
		"x-remote-user", "x-remote-group", "remote-user":
		return true
	}
	return false
}

// identityOf is what the sidecar says about u, by header.
func identityOf(u user) map[string]string {
	return map[string]string{
		jack.HeaderUserID: u.id, jack.HeaderUserEmail: u.email, jack.HeaderUserRole: string(u.role),
		jack.HeaderAuthRequestUser: u.id, jack.HeaderAuthRequestEmail: u.email,
		// A JackUser's token: the kind says so, and there is no API key id
		// (sent empty at /auth, so that a gateway's copy clears a client's).
		jack.HeaderUserKind: jack.UserKindUser, jack.HeaderAPIKeyID: "",
	}
}

// readings are the paths a router might take a request-target to name:
// as sent, percent-decoded once and twice, with "\" as "/", with ";…"
// parameters cut from each segment, each then lower-cased and cleaned
// (dot segments resolved, "//" merged, a trailing "/" dropped).
func readings(target string) []string {
	p, _, _ := strings.Cut(target, "?")
	p, _, _ = strings.Cut(p, "#")
	if l := strings.ToLower(p); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		rest := p[strings.Index(p, "//")+2:]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			p = rest[i:]
		} else {
			p = "/"
		}
	}
	forms := []string{p}
	if d, err := url.PathUnescape(p); err == nil {
		forms = append(forms, d)
		if dd, err := url.PathUnescape(d); err == nil {
			forms = append(forms, dd)
		}
	}
	var out []string
	for _, f := range forms {
		for _, g := range []string{f, strings.ReplaceAll(f, `\`, "/")} {
			out = append(out, g, cutParams(g))
		}
	}
	var cleaned []string
	for _, r := range out {
		r = strings.ToLower(r)
		if !strings.HasPrefix(r, "/") {
			r = "/" + r
		}
		cleaned = append(cleaned, r, path.Clean(r))
	}
	return cleaned
}

// cutParams drops ";…" from every segment (Tomcat's path parameters).
func cutParams(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		s, _, _ = strings.Cut(s, ";")
		segs[i] = s
	}
	return strings.Join(segs, "/")
}

func under(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }

// inAuthAPI: the sidecar's own routes, which must never reach Jack.
func inAuthAPI(p string) bool {
	return under(p, "/api/v1/auth") || strings.HasPrefix(p, "/api/v1/auth.")
}

// inAPI: a first segment starting with "api" in any case needs a token.
func inAPI(p string) bool {
	first := strings.TrimPrefix(p, "/")
	return strings.HasPrefix(strings.ToLower(first), "api")
}

// roleMay is the default policy on a cleaned, lower-case path.
func roleMay(r jack.Role, p string) bool {
	var areas []string
	switch r {
	case jack.RoleAdmin:
		return under(p, "/api/v1")
	case jack.RoleManager:
		areas = []string{"conversations", "tasks", "guests", "reports"}
	case jack.RoleStaff:
		areas = []string{"conversations", "tasks"}
	}
	for _, a := range areas {
		if under(p, "/api/v1/"+a) {
			return true
		}
	}
	return false
}

// mayReachJack reports whether who (nil: no token) may have a request for
// target reach Jack: under every reading, it is outside the API, or who's
// role may call it; and no reading is the auth API.
func mayReachJack(who *user, target string) bool {
	for _, p := range readings(target) {
		switch {
		case inAuthAPI(p):
			return false
		case !inAPI(p):
		case who == nil || !roleMay(who.role, p):
			return false
		}
	}
	return true
}

// outcome is how a request through a gateway ended.
type outcome string

const (
	// reachedJack: allowed, and Jack got it.
	reachedJack outcome = "reached Jack"
	// answeredBySidecar: the sidecar's answer reached the client as is: a
	// refusal, or the auth API's own answer.
	answeredBySidecar outcome = "answered by the sidecar"
	// refusedByGateway: the gateway refused the request itself, before
	// asking the sidecar anything (a request it cannot parse).
	refusedByGateway outcome = "refused by the gateway"
)

// check asserts what must hold for any request through a gateway, made
// with who's token (nil: none):
//   - Jack gets it at most once, only with a URI that who may call under
//     every reading, the method and URI the sidecar decided on, and
//     identity headers only as the sidecar set them, for who;
//   - otherwise the client gets the sidecar's last answer exactly (status
//     and body), which for a refusal is the JSON envelope with the status
//     of its code; or the gateway refused it without asking.
func (st *stack) check(t *testing.T, who *user, a answer) outcome {
	t.Helper()
	switch {
	case len(a.Jack) > 1:
		t.Errorf("%s: Jack got the request %d times", a, len(a.Jack))
		return reachedJack
	case len(a.Jack) == 1:
		st.checkReached(t, who, a, a.Jack[0])
		return reachedJack
	case len(a.Sidecar) == 0:
		if a.Status < 400 {
			t.Errorf("%s: the gateway answered without Jack or the sidecar", a)
		}
		return refusedByGateway
	}
	last := a.Sidecar[len(a.Sidecar)-1]
	if strings.HasPrefix(last.URI, "/auth") && last.Status/100 == 2 {
		t.Errorf("%s: the sidecar allowed it (%s asked %s), but Jack never got it", a, st.gw.name, last.URI)
	}
	if a.Status != last.Status || (a.Body != last.Body && a.req.Method != "HEAD") {
		t.Errorf("%s: the client did not get the sidecar's answer (%d %s)", a, last.Status, last.Body)
	}
	if a.Status >= 400 && a.req.Method != "HEAD" { // an answer to HEAD has no body
		e := a.Envelope.Error
		if !a.IsEnvelope || *a.Envelope.Success || e.Code == "" || e.Message == "" {
			t.Errorf("%s: a refusal without the JSON envelope", a)
		} else if want, ok := statusOf[e.Code]; !ok || want != a.Status {
			t.Errorf("%s: code %s with status %d, want %d", a, e.Code, a.Status, want)
		}
	}
	return answeredBySidecar
}

func (st *stack) checkReached(t *testing.T, who *user, a answer, j seen) {
	t.Helper()
	if a.Status != 200 || a.Header.Get("X-Served-By") != "jack" {
		t.Errorf("%s: Jack answered, but the client did not get Jack's answer", a)
	}
	if j.Method != a.req.Method {
		t.Errorf("%s: Jack got method %s", a, j.Method)
	}
	if !mayReachJack(who, j.URI) {
		t.Errorf("%s: Jack got %s %s for %s, who may not call it", a, j.Method, j.URI, nameOf(who))
	}
	// The request Jack got is the one the sidecar decided on.
	method, uri := st.decided(a)
	if uri == "" {
		t.Errorf("%s: Jack got it, but %s never asked /auth", a, st.gw.name)
	} else if method != j.Method || uri != j.URI {
		t.Errorf("%s: the sidecar decided on %s %s, Jack got %s %s", a, method, uri, j.Method, j.URI)
	}
	want := map[string]string{}
	if who != nil {
		want = identityOf(*who)
	}
	for name, vals := range j.Header {
		if !identityLike(name) {
			continue
		}
		w, ours := want[name]
		switch {
		case !ours && len(want) > 0:
			t.Errorf("%s: Jack got %s: %q, which the sidecar never sets", a, name, vals)
		case len(vals) > 1:
			t.Errorf("%s: Jack got %d values of %s: %q", a, len(vals), name, vals)
		case vals[0] != "" && vals[0] != w:
			t.Errorf("%s: Jack got %s: %q, want %q (from the sidecar) or nothing", a, name, vals[0], w)
		}
	}
	if who != nil && inAPI(strings.ToLower(j.URI)) {
		for name, w := range want {
			if got := j.Header.Get(name); got != w {
				t.Errorf("%s: Jack got %s: %q, want %q", a, name, got, w)
			}
		}
	}
}

// decided is the method and URI of the gateway's last question to /auth.
func (st *stack) decided(a answer) (method, uri string) {
	mh, uh := "X-Original-Method", "X-Original-Uri"
	if st.gw.dialect == "traefik" {
		mh, uh = "X-Forwarded-Method", "X-Forwarded-Uri"
	}
	for _, s := range a.Sidecar {
		if strings.HasPrefix(s.URI, "/auth") {
			method, uri = s.Header.Get(mh), s.Header.Get(uh)
		}
	}
	return method, uri
}

func nameOf(who *user) string {
	if who == nil {
		return "a client without a token"
	}
	return string(who.role) + " " + who.id
}
