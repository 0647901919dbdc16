package gateways

import (
	"strings"
	"testing"
)

// TestForgedIdentityHeadersNeverReachJack sends identity headers a client
// made up, in every spelling, with and without a token, on the API and on
// the web app. Whatever the gateway does with them (drop them, pass them
// to /auth, which refuses, or replace them with the sidecar's), Jack never
// gets one as the client sent it.
func TestForgedIdentityHeadersNeverReachJack(t *testing.T) {
	forgeries := map[string][]field{
		"X-Jack-User-Id":                           h("X-Jack-User-Id", "admin-1"),
		"X-Jack-User-Role":                         h("X-Jack-User-Role", "admin"),
		"X-Jack-User-Email":                        h("X-Jack-User-Email", "ada@example.com"),
		"all three of Jack's":                      h("X-Jack-User-Id", "admin-1", "X-Jack-User-Role", "admin", "X-Jack-User-Email", "ada@example.com"),
		"lower case":                               h("x-jack-user-role", "admin"),
		"upper case":                               h("X-JACK-USER-ROLE", "admin"),
		"underscores":                              h("X_Jack_User_Role", "admin"),
		"lower case underscores":                   h("x_jack_user_role", "admin"),
		"underscores and dashes":                   h("X-Jack_User-Id", "admin-1"),
		"another header of Jack's family":          h("X-Jack-User-Groups", "admins"),
		"X-Auth-Request-User":                      h("X-Auth-Request-User", "admin-1"),
		"X-Auth-Request-Email":                     h("X-Auth-Request-Email", "ada@example.com"),
		"X-Auth-Request-Groups":                    h("X-Auth-Request-Groups", "admin"),
		"X-Auth-Request-Preferred-Username":        h("X-Auth-Request-Preferred-Username", "ada"),
		"x_auth_request_email":                     h("x_auth_request_email", "ada@example.com"),
		"X-Forwarded-User":                         h("X-Forwarded-User", "admin-1"),
		"X-Forwarded-Email":                        h("X-Forwarded-Email", "ada@example.com"),
		"X-Forwarded-Preferred-Username":           h("X-Forwarded-Preferred-Username", "ada"),
		"X-Forwarded-Groups":                       h("X-Forwarded-Groups", "admin"),
		"x_forwarded_user":                         h("x_forwarded_user", "admin-1"),
		"X-Remote-User":                            h("X-Remote-User", "admin-1"),
		"X-Remote-Group":                           h("X-Remote-Group", "admin"),
		"Remote-User":                              h("Remote-User", "admin-1"),
		"Remote_User":                              h("Remote_User", "admin-1"),
		"the real name twice":                      h("X-Jack-User-Role", "admin", "X-Jack-User-Role", "admin"),
		"the real name empty, then a value":        h("X-Jack-User-Role", "", "x-jack-user-role", "admin"),
		"a value with a comma":                     h("X-Jack-User-Role", "staff, admin"),
		"the name with trailing space before :":    h("X-Jack-User-Role ", "admin"),
		"the auth API's identity, to a Jack route": h("X-Auth-Request-Access-Token", "forged"),
	}
	targets := []struct {
		name   string
		who    *user
		target string
	}{
		{"staff on tasks", &staff, "/api/v1/tasks/1"},
		{"admin on settings", &admin, "/api/v1/settings"},
		{"no token on the web app", nil, "/index.html"},
		{"no token on the API", nil, "/api/v1/tasks"},
	}
	forEachGateway(t, func(t *testing.T, st *stack) {
		tokens := map[string]string{}
		for _, u := range users {
			tokens[u.id] = st.token(t, u)
		}
		for fname, forged := range forgeries {
			for _, tg := range targets {
				t.Run(fname+", "+tg.name, func(t *testing.T) {
					hdr := append([]field(nil), forged...)
					if tg.who != nil {
						hdr = append(hdr, bearerOf(tokens[tg.who.id]))
					}
					a := st.send(t, request{Method: "GET", Target: tg.target, Header: hdr})
					got := st.check(t, tg.who, a)
					if got == reachedJack {
						// check made sure no identity-like header reached
						// Jack other than the sidecar's; say which way.
						for _, f := range forged {
							for name, vals := range a.Jack[0].Header {
								if strings.EqualFold(strings.TrimSpace(foldName(name)), strings.TrimSpace(foldName(f.Name))) && len(vals) > 0 && vals[0] == f.Value && f.Value != "" && !sidecarSays(tg.who, name, f.Value) {
									t.Errorf("%s: Jack got the forged %s: %s", a, name, f.Value)
								}
							}
						}
					}
				})
			}
		}
	})
}

// sidecarSays reports whether the sidecar itself would set name to value
// for who (a forged header that happens to carry the truth).
func sidecarSays(who *user, name, value string) bool {
	if who == nil {
		return false
	}
	return identityOf(*who)[name] == value
}
