package gateways

import (
	"fmt"
	"testing"
)

// TestEveryRoleGetsItsRoutesAndNoOthers walks the default role table
// through each gateway: what a role may call reaches Jack with its
// identity, the rest is refused with 403 FORBIDDEN and never reaches Jack.
func TestEveryRoleGetsItsRoutesAndNoOthers(t *testing.T) {
	areas := []string{"conversations", "tasks", "guests", "reports", "settings", "users"}
	may := map[string]map[string]bool{
		admin.id:   {"conversations": true, "tasks": true, "guests": true, "reports": true, "settings": true, "users": true},
		manager.id: {"conversations": true, "tasks": true, "guests": true, "reports": true},
		staff.id:   {"conversations": true, "tasks": true},
	}
	forEachGateway(t, func(t *testing.T, st *stack) {
		for _, u := range users {
			tok := st.token(t, u)
			for _, area := range areas {
				for _, c := range []struct{ method, target string }{
					{"GET", "/api/v1/" + area},
					{"GET", "/api/v1/" + area + "/7?expand=all"},
					{"POST", "/api/v1/" + area},
					{"PATCH", "/api/v1/" + area + "/7"},
					{"DELETE", "/api/v1/" + area + "/7"},
					{"HEAD", "/api/v1/" + area},
				} {
					name := fmt.Sprintf("%s %s %s", u.role, c.method, c.target)
					t.Run(name, func(t *testing.T) {
						a := st.send(t, request{Method: c.method, Target: c.target, Header: []field{bearerOf(tok)}})
						got := st.check(t, &u, a)
						if may[u.id][area] {
							if got != reachedJack {
								t.Fatalf("%s: %s, want it to reach Jack", a, got)
							}
							if j := a.Jack[0]; j.URI != c.target {
								t.Errorf("Jack got %s, want %s", j.URI, c.target)
							}
							return
						}
						if got != answeredBySidecar || a.Status != 403 || (c.method != "HEAD" && a.Envelope.Error.Code != "FORBIDDEN") {
							t.Fatalf("%s: %s, want 403 FORBIDDEN from the sidecar", a, got)
						}
					})
				}
			}
		}
		t.Run("no token on the API", func(t *testing.T) {
			for _, target := range []string{"/api/v1/tasks", "/api/v1/settings", "/api", "/api/v2/tasks", "/api.json", "/apidocs"} {
				a := st.send(t, request{Method: "GET", Target: target})
				if st.check(t, nil, a) != answeredBySidecar || a.Status != 401 || a.Envelope.Error.Code != "TOKEN_MISSING" {
					t.Errorf("%s: want 401 TOKEN_MISSING from the sidecar", a)
				}
			}
		})
		t.Run("a token that is not one", func(t *testing.T) {
			for _, auth := range []string{"Bearer nope", "Bearer " + st.token(t, staff) + "x", "Basic YTpi", "Bearer"} {
				a := st.send(t, request{Method: "GET", Target: "/api/v1/tasks", Header: h("Authorization", auth)})
				if st.check(t, nil, a) != answeredBySidecar || a.Status != 401 {
					t.Errorf("%s: want 401 from the sidecar", a)
				}
			}
		})
		t.Run("the web app needs no token and gets no identity", func(t *testing.T) {
			for _, target := range []string{"/", "/index.html", "/assets/app.js?v=3", "/login"} {
				a := st.send(t, request{Method: "GET", Target: target})
				if st.check(t, nil, a) != reachedJack {
					t.Errorf("%s: want it to reach Jack", a)
				}
			}
		})
	})
}

// TestEveryMethodSpellingIsDecidedAsSent sends methods in odd spellings
// through each gateway: none reaches Jack on a route the caller may not
// call, and Jack gets the method the sidecar decided on (check).
func TestEveryMethodSpellingIsDecidedAsSent(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		staffTok := st.token(t, staff)
		for _, m := range []string{"get", "Get", "delete", "OPTIONS", "TRACE", "PROPFIND", "MKCOL", "PURGE", "X-DELETE", "GET2", "CONNECT"} {
			for _, target := range []string{"/api/v1/settings", "/api/v1/tasks/1"} {
				t.Run(m+" "+target, func(t *testing.T) {
					a := st.send(t, request{Method: m, Target: target, Header: []field{bearerOf(staffTok)}})
					got := st.check(t, &staff, a)
					t.Logf("%s %s as staff: %s", m, target, a.summary())
					if target == "/api/v1/settings" && got == reachedJack {
						t.Errorf("%s: reached Jack", a)
					}
				})
			}
		}
	})
}

// TestAKeptAliveConnectionCarriesNoIdentityOver sends requests of different
// callers one after another on one client connection (and so, behind the
// gateway, on its kept-alive connections to the sidecar and Jack): each is
// decided on its own credential, and Jack gets each caller's identity or
// none.
func TestAKeptAliveConnectionCarriesNoIdentityOver(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		adminTok := st.token(t, admin)
		as := st.sendOnOneConnection(t,
			request{Method: "GET", Target: "/api/v1/settings", Header: []field{bearerOf(adminTok)}},
			request{Method: "GET", Target: "/api/v1/settings"},
			request{Method: "GET", Target: "/index.html"},
			request{Method: "DELETE", Target: "/api/v1/users/1", Header: []field{bearerOf(st.token(t, staff))}},
			request{Method: "GET", Target: "/api/v1/users/1", Header: []field{bearerOf(adminTok)}},
		)
		want := []outcome{reachedJack, answeredBySidecar, reachedJack, answeredBySidecar, reachedJack}
		who := []*user{&admin, nil, nil, &staff, &admin}
		for i, a := range as {
			if got := st.check(t, who[i], a); got != want[i] {
				t.Errorf("request %d: %s: %s, want %s", i+1, a, got, want[i])
			}
		}
	})
}
