package gateways

import (
	"encoding/json"
	"testing"
	"time"
)

// TestLoginRefreshAndLogoutForEveryRole runs the auth API through each
// gateway for every role: it is answered by the sidecar and never reaches
// Jack, the tokens it hands out work through the gateway, and a logout
// ends the token at once.
func TestLoginRefreshAndLogoutForEveryRole(t *testing.T) {
	allowed := map[string]string{admin.id: "/api/v1/settings", manager.id: "/api/v1/reports/3", staff.id: "/api/v1/tasks/9"}
	forEachGateway(t, func(t *testing.T, st *stack) {
		t.Run("every role", func(t *testing.T) {
			for _, u := range users {
				t.Run(string(u.role), func(t *testing.T) {
					t.Parallel() // each waits a second before its refresh
					in := st.login(t, "", u.email, passwordOf(u))
					if st.check(t, nil, in) != answeredBySidecar || in.Status != 200 || in.Envelope.Data.Token == "" {
						t.Fatalf("login: %s", in)
					}
					if got := in.Envelope.Data.User; got.ID != u.id || got.Email != u.email || got.Role != string(u.role) || got.Name != u.name {
						t.Errorf("login answered user %+v", got)
					}
					use := func(tok string) answer {
						return st.send(t, request{Method: "GET", Target: allowed[u.id], Header: []field{bearerOf(tok)}})
					}
					if a := use(in.Envelope.Data.Token); st.check(t, &u, a) != reachedJack {
						t.Fatalf("the login's token: %s", a)
					}

					time.Sleep(1100 * time.Millisecond) // a later second, for a later expiresAt
					re := st.send(t, request{Method: "POST", Target: "/api/v1/auth/refresh", Header: []field{bearerOf(in.Envelope.Data.Token)}})
					if st.check(t, nil, re) != answeredBySidecar || re.Status != 200 || re.Envelope.Data.Token == "" || re.Envelope.Data.Token == in.Envelope.Data.Token {
						t.Fatalf("refresh: %s", re)
					}
					if re.Envelope.Data.ExpiresAt <= in.Envelope.Data.ExpiresAt {
						t.Errorf("refresh: expiresAt %s, not after the login's %s", re.Envelope.Data.ExpiresAt, in.Envelope.Data.ExpiresAt)
					}
					tok := re.Envelope.Data.Token
					if a := use(tok); st.check(t, &u, a) != reachedJack {
						t.Fatalf("the refreshed token: %s", a)
					}

					out := st.send(t, request{Method: "POST", Target: "/api/v1/auth/logout", Header: []field{bearerOf(tok)}})
					if st.check(t, nil, out) != answeredBySidecar || out.Status != 200 || !*out.Envelope.Success {
						t.Fatalf("logout: %s", out)
					}
					if a := use(tok); st.check(t, &u, a) != answeredBySidecar || a.Status != 401 || a.Envelope.Error.Code != "TOKEN_INVALID" {
						t.Errorf("the logged-out token: %s, want 401 TOKEN_INVALID", a)
					}
					if a := st.send(t, request{Method: "POST", Target: "/api/v1/auth/refresh", Header: []field{bearerOf(tok)}}); a.Status != 401 {
						t.Errorf("refresh with the logged-out token: %s, want 401", a)
					}
				})
			}
		})
		t.Run("a wrong password", func(t *testing.T) {
			a := st.login(t, "", staff.email, "not the password")
			if st.check(t, nil, a) != answeredBySidecar || a.Status != 401 || a.Envelope.Error.Code != "INVALID_CREDENTIALS" {
				t.Errorf("%s: want 401 INVALID_CREDENTIALS", a)
			}
		})
		t.Run("every spelling of the auth API is the sidecar's", func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"email": admin.email, "password": passwordOf(admin)})
			for _, target := range []string{
				"/API/V1/AUTH/LOGIN", "/api/v1/Auth/login", "/api/v1/auth/login/", "/api/v1/auth/login?x=1",
				"/api/v1/auth", "/api/v1/auth/", "/api/v1/auth/me", "/api/v1/auth/register", "/api/v1/auth.json",
				"/api/v1/auth/login.json", "/api/v1/auth/../auth/login", "//api/v1/auth/login", "/api/v1//auth/login",
				"/api/v1/%61uth/login", "/api/v1/auth%2Flogin", "/api/v1/auth;/login", "/api/v1/auth/login;x",
				"/api/v1/tasks/../auth/login", "/api/v1/auth/./login",
			} {
				from := nextClient() // each its own login allowance
				for _, method := range []string{"POST", "GET", "DELETE"} {
					a := st.send(t, request{Method: method, Target: target, From: from, Header: h("Content-Type", "application/json"), Body: string(body)})
					if got := st.check(t, nil, a); got == reachedJack {
						t.Errorf("%s: reached Jack", a)
					}
					t.Logf("%s %s: %s", method, target, a.summary())
				}
			}
		})
		t.Run("forged identity headers on the auth API change nothing", func(t *testing.T) {
			a := st.send(t, request{Method: "POST", Target: "/api/v1/auth/login", Header: h("Content-Type", "application/json",
				"X-Jack-User-Role", "admin", "X-Jack-User-Id", "admin-1", "X-Forwarded-User", "admin-1"),
				Body: `{"email":"` + staff.email + `","password":"` + passwordOf(staff) + `"}`})
			if st.check(t, nil, a) != answeredBySidecar || a.Status != 200 || a.Envelope.Data.User.Role != "staff" {
				t.Errorf("%s: want staff's login", a)
			}
		})
	})
}
