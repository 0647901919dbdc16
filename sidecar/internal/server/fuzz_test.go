package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

// FuzzForwardAuthAgreesWithTheProxy decodes the same original request the
// two ways the sidecar meets it — proxied itself, or described to /auth by
// a gateway in each dialect — and requires the same decision: whatever the
// request, a gateway in front never lets through what the proxy refuses, or
// the other way round.
func FuzzForwardAuthAgreesWithTheProxy(f *testing.F) {
	for _, seed := range []struct {
		method, uri string
		role        uint8
	}{
		{"GET", "/api/v1/tasks", 0}, {"DELETE", "/api/v1/settings/1", 1}, {"GET", "/API/v1/Settings", 2},
		{"GET", "/api/v1/tasks/..%2Fsettings", 0}, {"POST", "/api/v1/tasks?_method=DELETE", 2}, {"GET", "/index.html", 3},
		{"GET", "/api.json", 0}, {"PATCH", "/api/v1/tasks/7?access_token=x", 1}, {"GET", "/api/v1/%73ettings", 2},
		{"GET", "/apidocs/x;y", 0}, {"HEAD", "/api/v1/guests/", 1}, {"GET", "//api/v1/users", 0},
	} {
		f.Add(seed.method, seed.uri, seed.role)
	}
	tm := newTeam(f)
	jack200 := httptestServer(f, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	proxy := newServer(f, tm, Config{Upstream: jack200})
	gateways := map[Dialect]http.Handler{}
	for _, d := range []Dialect{DialectNginx, DialectTraefik, DialectEnvoy, DialectAuto} {
		gateways[d] = newServer(f, tm, Config{ForwardAuth: d})
	}
	f.Fuzz(func(t *testing.T, method, uri string, role uint8) {
		u, err := url.ParseRequestURI(uri)
		if err != nil || !isToken(method) || !strings.HasPrefix(uri, "/") || strings.ContainsAny(uri, " \r\n\x00#") {
			return
		}
		if p, ok := policy.NormalizePath(uri); ok && policy.Classify(p) >= policy.AreaLogin {
			return // the auth API: answered by the proxy, misdirected at /auth
		}
		var auth []string
		if r := int(role) % (len(jack.Roles) + 1); r < len(jack.Roles) {
			auth = []string{"Authorization", "Bearer " + tm.tokens[jack.Roles[r]]}
		}
		direct := &http.Request{Method: method, URL: u, RequestURI: uri, Header: http.Header{}, Host: "jack", RemoteAddr: "192.0.2.1:1"}
		for i := 0; i < len(auth); i += 2 {
			direct.Header.Set(auth[i], auth[i+1])
		}
		w := httptest.NewRecorder()
		proxy.ServeHTTP(w, direct)
		want := w.Code

		asked := map[Dialect]*http.Request{
			DialectNginx:   request("GET", "/auth", append([]string{"X-Original-Method", method, "X-Original-URI", uri}, auth...)...),
			DialectTraefik: request("GET", "/auth", append([]string{"X-Forwarded-Method", method, "X-Forwarded-Uri", uri}, auth...)...),
			DialectAuto:    request("GET", "/auth", append([]string{"X-Forwarded-Method", method, "X-Forwarded-Uri", uri}, auth...)...),
		}
		envoy, err := http.NewRequest(method, "http://jack"+ForwardAuthPath+uri, nil)
		if err == nil {
			envoy.RequestURI = ForwardAuthPath + uri
			for i := 0; i < len(auth); i += 2 {
				envoy.Header.Set(auth[i], auth[i+1])
			}
			asked[DialectEnvoy] = envoy
		}
		for d, r := range asked {
			w := httptest.NewRecorder()
			gateways[d].ServeHTTP(w, r)
			if w.Code != want {
				t.Fatalf("%s %q as %s: /auth answered %d, the proxy %d: %s", method, uri, d, w.Code, want, w.Body)
			}
		}
	})
}
