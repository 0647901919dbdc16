package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

// step runs one WithX of the chain alone: the exchange is prepared as the
// steps before it would leave it, and next records what the step passed on.
func step(t *testing.T, with func(next http.Handler) http.Handler, r *http.Request, prepare func(*exchange)) (w *httptest.ResponseRecorder, passed *exchange, seen *http.Request) {
	t.Helper()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passed, seen = exchangeOf(w), r
	})
	h := withExchange(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if prepare != nil {
			prepare(exchangeOf(w))
		}
		with(next).ServeHTTP(w, r)
	}))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, passed, seen
}

func TestWithResolutionDecidesWhatTheRequestIsAbout(t *testing.T) {
	trusted, _ := ParseTrustedProxies([]string{"10.0.0.1"})
	res := Resolution{Dialect: DialectAuto, Trusted: trusted, Proxy: true, identity: newIdentityMatcher(nil)}
	type want struct {
		forward      bool
		method, path string
		area         policy.Area
		client       string
		credential   string
		code         string // a refusal instead
	}
	cases := map[string]struct {
		r    *http.Request
		from string
		want want
	}{
		"a proxied API call": {request("DELETE", "/api/v1/tasks/7?x=1", "Authorization", "Bearer t"), "192.0.2.1:1",
			want{false, "DELETE", "/api/v1/tasks/7", policy.AreaAPI, "192.0.2.1", "Bearer t", ""}},
		"a gateway asks about an original request in Traefik's form": {request("GET", "/auth", "X-Forwarded-Method", "PUT", "X-Forwarded-Uri", "/API/v1/Tasks/", "X-Forwarded-For", "203.0.113.9"), "10.0.0.1:1",
			want{true, "PUT", "/API/v1/Tasks", policy.AreaAPI, "203.0.113.9", "", ""}},
		"a web page": {request("GET", "/index.html?access=1"), "192.0.2.1:1",
			want{false, "GET", "/index.html", policy.AreaPublic, "192.0.2.1", "", ""}},
		"the logout in capitals": {request("POST", "/API/V1/AUTH/LOGOUT", "Authorization", "Bearer t"), "192.0.2.1:1",
			want{false, "POST", "/API/V1/AUTH/LOGOUT", policy.AreaLogout, "192.0.2.1", "Bearer t", ""}},
		"/auth from outside the trusted proxies": {request("GET", "/auth/api/v1/tasks"), "192.0.2.1:1", want{code: "UNTRUSTED_PROXY"}},
		"an unclean path":                        {request("GET", "/api/v1/tasks/%2e%2e/settings"), "192.0.2.1:1", want{code: "BAD_REQUEST"}},
		"a login by GET":                         {request("GET", "/api/v1/auth/login"), "192.0.2.1:1", want{code: "METHOD_NOT_ALLOWED"}},
		"a token in the query of a web page":     {request("GET", "/index.html?access_token=t"), "192.0.2.1:1", want{code: "AMBIGUOUS_CREDENTIALS"}},
		"a second credential":                    {request("GET", "/api/v1/tasks", "Authorization", "Bearer t", "X_Api_Key", "k"), "192.0.2.1:1", want{code: "AMBIGUOUS_CREDENTIALS"}},
		"a foreign URL header at /auth":          {request("GET", "/auth/api/v1/tasks", "X-Rewrite-Url", "/"), "10.0.0.1:1", want{code: "AMBIGUOUS_REQUEST"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.r.RemoteAddr = tc.from
			w, ex, _ := step(t, func(next http.Handler) http.Handler { return WithResolution(res, next) }, tc.r, nil)
			if tc.want.code != "" {
				if ex != nil || w.Code < 400 || !strings.Contains(w.Body.String(), tc.want.code) {
					t.Fatalf("passed on, or answered %d %s; want %s", w.Code, w.Body, tc.want.code)
				}
				return
			}
			if ex == nil {
				t.Fatalf("refused: %d %s", w.Code, w.Body)
			}
			got := want{ex.forward, ex.method, ex.path, ex.area, ex.client, ex.credential, ""}
			if got != tc.want || !ex.resolved {
				t.Errorf("resolved as %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWithIdentityStrippingActsOnWhatResolutionFound(t *testing.T) {
	m := newIdentityMatcher(nil)
	strip := func(next http.Handler) http.Handler { return WithIdentityStripping(m, next) }
	forged := func() *http.Request {
		return request("GET", "/api/v1/tasks", "X_Jack_User_Role", "admin", "X-Original-Url", "/", "X-Request-Id", "1")
	}
	t.Run("a proxied request loses every claim and keeps the rest", func(t *testing.T) {
		_, ex, r := step(t, strip, forged(), func(ex *exchange) { ex.headers = claimIdentity | claimOriginal })
		if ex == nil {
			t.Fatal("refused")
		}
		if len(r.Header) != 1 || r.Header.Get("X-Request-Id") != "1" {
			t.Errorf("Jack would get %v", r.Header)
		}
	})
	t.Run("at /auth an identity claim is refused", func(t *testing.T) {
		w, ex, _ := step(t, strip, forged(), func(ex *exchange) { ex.forward, ex.headers = true, claimIdentity })
		if ex != nil || w.Code != 400 || !strings.Contains(w.Body.String(), "FORGED_IDENTITY") {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
	t.Run("nothing found, nothing looked at", func(t *testing.T) {
		_, _, r := step(t, strip, forged(), nil)
		if len(r.Header) != 3 {
			t.Errorf("headers were removed without resolution finding any: %v", r.Header)
		}
	})
}

func TestWithAuthorizationAsksThePolicyOnlyForTheAPI(t *testing.T) {
	tm := newTeam(t)
	m, _ := newMetrics(prometheus.NewRegistry())
	authorize := func(next http.Handler) http.Handler { return WithAuthorization(tm.src, m, nil, next) }
	for name, tc := range map[string]struct {
		area   policy.Area
		role   jack.Role
		method string
		path   string
		pass   bool
	}{
		"staff may read tasks":             {policy.AreaAPI, jack.RoleStaff, "GET", "/api/v1/tasks", true},
		"staff may not read SETTINGS":      {policy.AreaAPI, jack.RoleStaff, "GET", "/api/v1/SETTINGS", false},
		"a manager may not delete users":   {policy.AreaAPI, jack.RoleManager, "DELETE", "/API/V1/USERS/7", false},
		"staff may log out without a rule": {policy.AreaLogout, jack.RoleStaff, "POST", "/api/v1/auth/logout", true},
		"staff may refresh without a rule": {policy.AreaRefresh, jack.RoleStaff, "POST", "/api/v1/auth/refresh", true},
		"a web page needs no rule":         {policy.AreaPublic, "", "GET", "/index.html", true},
		"admin may reach a suffixed route": {policy.AreaAPI, jack.RoleAdmin, "GET", "/api/v1/settings.json", true},
		"a role the policy does not know":  {policy.AreaAPI, "owner", "GET", "/api/v1/tasks", false},
	} {
		t.Run(name, func(t *testing.T) {
			w, ex, _ := step(t, authorize, request(tc.method, tc.path), func(ex *exchange) {
				ex.area, ex.method, ex.path, ex.id.User.Role = tc.area, tc.method, tc.path, tc.role
			})
			if (ex != nil) != tc.pass || (!tc.pass && w.Code != 403) {
				t.Errorf("passed %v (%d %s), want %v", ex != nil, w.Code, w.Body, tc.pass)
			}
		})
	}
}
