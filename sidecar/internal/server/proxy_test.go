package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

func TestTheProxyForwardsOnlyWhatItDecidedOn(t *testing.T) {
	type want struct {
		status int
		code   string // when refused
		uri    string // what Jack receives, when forwarded
	}
	cases := map[string]struct {
		method  string
		target  string
		role    jack.Role // "" for no token
		headers []string
		want    want
	}{
		"staff GET tasks":                                 {"GET", "/api/v1/tasks", jack.RoleStaff, nil, want{200, "", "/api/v1/tasks"}},
		"a public page needs no token":                    {"GET", "/index.html", "", nil, want{200, "", "/index.html"}},
		"the API in upper case needs a token":             {"GET", "/API/v1/settings", "", nil, want{401, "TOKEN_MISSING", ""}},
		"the API in mixed case needs a token":             {"GET", "/Api/V1/Settings", "", nil, want{401, "TOKEN_MISSING", ""}},
		"the API prefix with a suffix needs a token":      {"GET", "/api.json", "", nil, want{401, "TOKEN_MISSING", ""}},
		"staff may not reach SETTINGS":                    {"GET", "/api/v1/SETTINGS", jack.RoleStaff, nil, want{403, "FORBIDDEN", ""}},
		"staff reach TASKS as tasks":                      {"GET", "/API/V1/TASKS/7", jack.RoleStaff, nil, want{200, "", "/API/V1/TASKS/7"}},
		"a manager may not reach settings.json":           {"GET", "/api/v1/settings.json", jack.RoleManager, nil, want{403, "FORBIDDEN", ""}},
		"a manager may not reach settings/":               {"GET", "/api/v1/settings/", jack.RoleManager, nil, want{403, "FORBIDDEN", ""}},
		"dot segments are refused":                        {"GET", "/api/v1/tasks/../settings", jack.RoleStaff, nil, want{400, "BAD_REQUEST", ""}},
		"an encoded letter is refused":                    {"GET", "/api/v1/%73ettings", jack.RoleStaff, nil, want{400, "BAD_REQUEST", ""}},
		"an encoded first letter of the API is refused":   {"GET", "/%61pi/v1/settings", "", nil, want{400, "BAD_REQUEST", ""}},
		"a doubled slash before the API is refused":       {"GET", "//api/v1/settings", "", nil, want{400, "BAD_REQUEST", ""}},
		"a semicolon is refused":                          {"GET", "/api/v1/tasks;/settings", jack.RoleStaff, nil, want{400, "BAD_REQUEST", ""}},
		"a method override is refused":                    {"POST", "/api/v1/tasks/7", jack.RoleStaff, []string{"X-HTTP-Method-Override", "DELETE"}, want{400, "AMBIGUOUS_REQUEST", ""}},
		"two Authorization headers are refused":           {"GET", "/api/v1/tasks", jack.RoleStaff, []string{"Authorization", "Bearer x"}, want{400, "AMBIGUOUS_CREDENTIALS", ""}},
		"a token in the query is refused":                 {"GET", "/api/v1/tasks?access_token=x", jack.RoleStaff, nil, want{400, "AMBIGUOUS_CREDENTIALS", ""}},
		"the auth API in upper case is the sidecar's":     {"GET", "/API/v1/auth/login", "", nil, want{405, "METHOD_NOT_ALLOWED", ""}},
		"an unknown auth path is the sidecar's 404":       {"GET", "/api/v1/auth/me", jack.RoleAdmin, nil, want{404, "NOT_FOUND", ""}},
		"the login with a suffix is the sidecar's 404":    {"POST", "/api/v1/auth/login.json", "", nil, want{404, "NOT_FOUND", ""}},
		"the auth API's root is the sidecar's 404":        {"GET", "/api/v1/auth/", jack.RoleAdmin, nil, want{404, "NOT_FOUND", ""}},
		"a refresh by GET is refused before the token":    {"GET", "/api/v1/auth/refresh", "", nil, want{405, "METHOD_NOT_ALLOWED", ""}},
		"/auth asked directly with no headers is refused": {"GET", "/auth", "", nil, want{400, "BAD_REQUEST", ""}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tm := newTeam(t)
			u, got := upstream(t)
			h := newServer(t, tm, Config{Upstream: u})
			headers := tc.headers
			if tc.role != "" {
				headers = append([]string{"Authorization", "Bearer " + tm.tokens[tc.role]}, headers...)
			}
			w, env := serve(t, h, request(tc.method, tc.target, headers...), "")
			if w.Code != tc.want.status || env.Error.Code != tc.want.code {
				t.Fatalf("got %d %s (%s), want %d %s", w.Code, env.Error.Code, env.Error.Message, tc.want.status, tc.want.code)
			}
			select {
			case s := <-got:
				if tc.want.uri == "" {
					t.Fatalf("Jack received %s %s", s.Method, s.URI)
				}
				if s.URI != tc.want.uri || s.Method != tc.method {
					t.Errorf("Jack received %s %s, want %s %s", s.Method, s.URI, tc.method, tc.want.uri)
				}
			default:
				if tc.want.uri != "" {
					t.Fatal("Jack received nothing")
				}
			}
		})
	}
}

func TestTheProxyStripsIdentityHeadersInAnySpelling(t *testing.T) {
	tm := newTeam(t)
	u, got := upstream(t)
	h := newServer(t, tm, Config{Upstream: u, StripHeaders: []string{"X-Tenant"}})
	forged := []string{
		"X-Jack-User-Id", "admin-1", "x_jack_user_role", "admin", "X_JACK_USER_EMAIL", "a@example.com",
		"X-Jack-User-Groups", "admins", "X-Auth-Request-User", "admin-1", "X_Auth_Request_Email", "a@example.com",
		"X-Forwarded-User", "admin-1", "x_forwarded_email", "a@example.com", "X-Remote-User", "admin-1",
		"Remote_User", "admin-1", "x_tenant", "acme",
		// The API key headers: a user posing as a key, or as another key.
		"X-Jack-User-Kind", "api-key", "x_jack_user_api_key_id", "ak-forged", "X-JACK-USER-API-KEY-ID", "ak-forged",
		// Headers naming another URL or method, which some frameworks route by.
		"X-Original-Url", "/api/v1/settings", "X_Original_URL", "/api/v1/settings", "X-Rewrite-Url", "/api/v1/settings",
		"x_forwarded_uri", "/api/v1/settings", "X-Forwarded-Method", "DELETE", "X-Original-Method", "DELETE",
	}
	for _, role := range []jack.Role{"", jack.RoleStaff} {
		headers := forged
		target := "/index.html"
		if role != "" {
			headers = append([]string{"Authorization", "Bearer " + tm.tokens[role]}, forged...)
			target = "/api/v1/tasks"
		}
		w, env := serve(t, h, request("GET", target, headers...), "")
		if w.Code != 200 {
			t.Fatalf("%s: got %d %s", target, w.Code, env.Error.Code)
		}
		s := <-got
		for name, vals := range s.Header {
			folded := foldHeaderName(name)
			if strings.HasPrefix(folded, "x-original-") || strings.HasPrefix(folded, "x-rewrite-") ||
				folded == "x-forwarded-uri" || folded == "x-forwarded-method" {
				t.Errorf("%s: Jack received %s: %q", target, name, vals)
			}
			if strings.HasPrefix(folded, "x-jack-user-") || strings.HasPrefix(folded, "x-auth-request-") ||
				strings.Contains(folded, "forwarded-user") || strings.Contains(folded, "forwarded-email") ||
				strings.Contains(folded, "remote-user") || folded == "x-tenant" {
				if folded == "x-jack-user-kind" && role != "" && len(vals) == 1 && vals[0] == jack.UserKindUser {
					continue // the sidecar's own
				}
				if role == "" || len(vals) != 1 || !strings.Contains(vals[0], string(role)) {
					t.Errorf("%s: Jack received %s: %q", target, name, vals)
				}
			}
		}
		if role != "" && s.Header.Get(jack.HeaderUserRole) != string(role) {
			t.Errorf("Jack received role %q, want %q", s.Header.Get(jack.HeaderUserRole), role)
		}
	}
}

func TestLoginThrottlingKeysOnTheClientATrustedProxyReports(t *testing.T) {
	tm := newTeam(t)
	trusted, _ := ParseTrustedProxies([]string{"10.0.0.1"})
	h := newServer(t, tm, Config{TrustedProxies: trusted})
	login := func(xff, addr string) int {
		r := request("POST", "/api/v1/auth/login", "Content-Type", "application/json")
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		r.Body = http.NoBody
		r.Body = ioNopCloser(`{"email":"nobody` + xff + `@example.com","password":"wrong"}`)
		w, _ := serve(t, h, r, addr)
		return w.Code
	}
	// One client behind the gateway spends its burst of ten, and more.
	for range 12 {
		login("203.0.113.5", "10.0.0.1:4000")
	}
	if got := login("203.0.113.5", "10.0.0.1:4000"); got != 429 {
		t.Fatalf("the guessing client's login answered %d, want 429", got)
	}
	if got := login("198.51.100.9", "10.0.0.1:4000"); got != 401 {
		t.Errorf("another client behind the same gateway got %d, want 401 (its own bucket)", got)
	}
	// A client that is not a trusted proxy cannot pick its bucket.
	for range 12 {
		login("192.0.2.1", "203.0.113.77:5000")
	}
	if got := login("192.0.2.2", "203.0.113.77:5000"); got != 429 {
		t.Errorf("an untrusted client choosing a new X-Forwarded-For got %d, want 429", got)
	}
	// A client putting addresses left of the gateway's entry gains nothing.
	for range 12 {
		login("192.0.2.50, 203.0.113.88", "10.0.0.1:4000")
	}
	if got := login("192.0.2.51, 203.0.113.88", "10.0.0.1:4000"); got != 429 {
		t.Errorf("a client forging the left of X-Forwarded-For got %d, want 429", got)
	}
}

func TestRefreshAndLogoutAreThrottledPerTokenAndUser(t *testing.T) {
	tm := newTeam(t)
	h := newServer(t, tm, Config{})
	auth := "Bearer " + tm.tokens[jack.RoleStaff]
	codes := map[int]int{}
	for range 5 {
		w, _ := serve(t, h, request("POST", "/api/v1/auth/refresh", "Authorization", auth), "")
		codes[w.Code]++
	}
	if codes[200] != 3 || codes[429] != 2 {
		t.Errorf("five refreshes of one token answered %v, want three 200 and two 429", codes)
	}
	w, _ := serve(t, h, request("POST", "/api/v1/auth/logout", "Authorization", auth), "")
	if w.Code != 200 {
		t.Fatalf("the logout answered %d", w.Code)
	}
	w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", auth), "")
	if w.Code != 401 || env.Error.Code != "TOKEN_INVALID" {
		t.Errorf("after logout /auth answered %d %s", w.Code, env.Error.Code)
	}
}

func TestAClientsRequestsInFlightAreBounded(t *testing.T) {
	tm := newTeam(t)
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	})
	srv := httptestServer(t, slow)
	h := newServer(t, tm, Config{Upstream: srv, MaxInFlightPerClient: 2})
	done := make(chan int, 2)
	for range 2 {
		go func() {
			w, _ := serve(t, h, request("GET", "/index.html"), "192.0.2.1:1000")
			done <- w.Code
		}()
	}
	<-started
	<-started
	if w, env := serve(t, h, request("GET", "/index.html"), "192.0.2.1:1001"); w.Code != 429 || env.Error.Code != "TOO_MANY_REQUESTS" {
		t.Errorf("a third request in flight got %d %s, want 429", w.Code, env.Error.Code)
	}
	go func() { time.Sleep(10 * time.Millisecond); close(release) }()
	if w, _ := serve(t, h, request("GET", "/index.html"), "192.0.2.2:1000"); w.Code != 200 {
		t.Errorf("another client got %d", w.Code)
	}
	<-done
	<-done
	if w, _ := serve(t, h, request("GET", "/index.html"), "192.0.2.1:1002"); w.Code != 200 {
		t.Errorf("once its requests finished, the client got %d", w.Code)
	}
}
