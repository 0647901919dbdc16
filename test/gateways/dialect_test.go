package gateways

import (
	"strings"
	"testing"
)

// TestForwardAuthHeadersFromClientsDecideNothing sends the headers that
// gateways use to tell /auth about the original request, of every dialect,
// repeated, and method overrides, as a client: the sidecar decides on the
// request the gateway forwards, or refuses.
func TestForwardAuthHeadersFromClientsDecideNothing(t *testing.T) {
	cases := map[string]struct {
		method, target string
		who            *user
		header         []field
		// want is reachedJack, or answeredBySidecar for a refusal, or ""
		// for either. Either way, Jack never gets a method override naming
		// another method.
		want outcome
	}{
		"X-Original-Method GET on a DELETE of settings":       {"DELETE", "/api/v1/settings", &staff, h("X-Original-Method", "GET"), answeredBySidecar},
		"X-Original-URI / on settings without a token":        {"GET", "/api/v1/settings", nil, h("X-Original-URI", "/"), answeredBySidecar},
		"X-Original-URI of tasks on settings":                 {"GET", "/api/v1/settings", &staff, h("X-Original-URI", "/api/v1/tasks"), answeredBySidecar},
		"X-Original-URL of the web app on settings":           {"GET", "/api/v1/settings", nil, h("X-Original-URL", "https://jack.example.com/index.html"), answeredBySidecar},
		"X-Forwarded-Uri / on settings without a token":       {"GET", "/api/v1/settings", nil, h("X-Forwarded-Uri", "/"), answeredBySidecar},
		"X-Forwarded-Method GET on a DELETE of users":         {"DELETE", "/api/v1/users/1", &manager, h("X-Forwarded-Method", "GET"), answeredBySidecar},
		"X-Forwarded-Uri and -Method of tasks on users":       {"POST", "/api/v1/users", &staff, h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks"), answeredBySidecar},
		"both dialects on settings without a token":           {"GET", "/api/v1/settings", nil, h("X-Original-URI", "/", "X-Original-Method", "GET", "X-Forwarded-Uri", "/", "X-Forwarded-Method", "GET"), answeredBySidecar},
		"X-Original-URI twice":                                {"GET", "/api/v1/settings", &staff, h("X-Original-URI", "/api/v1/tasks", "X-Original-URI", "/api/v1/tasks"), answeredBySidecar},
		"X-Forwarded-Uri twice":                               {"GET", "/api/v1/settings", &staff, h("X-Forwarded-Uri", "/api/v1/tasks", "X-Forwarded-Uri", "/api/v1/tasks"), answeredBySidecar},
		"X-Original-Method twice":                             {"DELETE", "/api/v1/settings", &manager, h("X-Original-Method", "GET", "X-Original-Method", "GET"), answeredBySidecar},
		"x_original_uri":                                      {"GET", "/api/v1/settings", nil, h("x_original_uri", "/"), answeredBySidecar},
		"x_forwarded_uri":                                     {"GET", "/api/v1/settings", nil, h("x_forwarded_uri", "/"), answeredBySidecar},
		"X-Forwarded-Prefix":                                  {"GET", "/api/v1/settings", nil, h("X-Forwarded-Prefix", "/public"), answeredBySidecar},
		"X-Rewrite-URL and X-Original-Url (IIS)":              {"GET", "/api/v1/settings", nil, h("X-Rewrite-URL", "/", "X-Original-Url", "/"), answeredBySidecar},
		"X-Original-URI on an allowed route decides nothing":  {"GET", "/api/v1/tasks/3", &staff, h("X-Original-URI", "/api/v1/settings"), ""},
		"X-Forwarded-Uri on an allowed route decides nothing": {"GET", "/api/v1/tasks/3", &staff, h("X-Forwarded-Uri", "/api/v1/settings"), ""},
		"X-HTTP-Method-Override DELETE on a GET":              {"GET", "/api/v1/tasks/3", &staff, h("X-HTTP-Method-Override", "DELETE"), answeredBySidecar},
		"X-HTTP-Method-Override GET on a DELETE of settings":  {"DELETE", "/api/v1/settings", &manager, h("X-HTTP-Method-Override", "GET"), answeredBySidecar},
		"X-HTTP-Method DELETE":                                {"POST", "/api/v1/tasks/3", &staff, h("X-HTTP-Method", "DELETE"), answeredBySidecar},
		"X-Method-Override PUT":                               {"POST", "/api/v1/tasks/3", &staff, h("X-Method-Override", "PUT"), answeredBySidecar},
		// nginx drops a header with "_" in its name (so Jack gets the
		// request without it); Traefik passes it to /auth, which refuses it.
		"x_http_method_override DELETE":                          {"POST", "/api/v1/tasks/3", &staff, h("x_http_method_override", "DELETE"), ""},
		"X-HTTP-Method-Override equal to the method is harmless": {"POST", "/api/v1/tasks/3", &staff, h("X-HTTP-Method-Override", "POST"), reachedJack},
		"a _method parameter":                                    {"POST", "/api/v1/tasks/3?_method=DELETE", &staff, nil, answeredBySidecar},
		"an encoded _method parameter":                           {"POST", "/api/v1/tasks/3?%5Fmethod=DELETE", &staff, nil, answeredBySidecar},
		"a _method parameter, after a ;":                         {"POST", "/api/v1/tasks/3?a=1;_method=DELETE", &staff, nil, answeredBySidecar},
		"X-Forwarded-For of a trusted proxy changes no decision": {"GET", "/api/v1/settings", nil, h("X-Forwarded-For", "127.0.0.1"), answeredBySidecar},
		"X-Forwarded-Host of another site":                       {"GET", "/api/v1/settings", nil, h("X-Forwarded-Host", "admin.internal"), answeredBySidecar},
	}
	forEachGateway(t, func(t *testing.T, st *stack) {
		tokens := map[string]string{}
		for _, u := range users {
			tokens[u.id] = st.token(t, u)
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				hdr := append([]field(nil), c.header...)
				if c.who != nil {
					hdr = append(hdr, bearerOf(tokens[c.who.id]))
				}
				a := st.send(t, request{Method: c.method, Target: c.target, Header: hdr})
				got := st.check(t, c.who, a)
				if got == reachedJack {
					for name, vals := range a.Jack[0].Header {
						switch foldName(name) {
						case "x-http-method-override", "x-http-method", "x-method-override":
							if len(vals) != 1 || vals[0] != c.method {
								t.Errorf("%s: Jack got %s: %q", a, name, vals)
							}
						}
					}
				}
				if c.want != "" && got != c.want {
					t.Errorf("%s: %s, want %s", a, got, c.want)
				}
			})
		}
	})
}

// TestHeadersNamingAnotherURLNeverReachJack sends the headers some
// frameworks route by instead of the request line (X-Original-URL,
// X-Rewrite-URL: Symfony, Zend, IIS) and the forward-auth dialects' own, in
// every spelling, on a request the sidecar allows (the web app, or staff on
// tasks) and naming settings: Jack must never get one, or a framework in
// Jack could serve settings on a decision made for another path.
func TestHeadersNamingAnotherURLNeverReachJack(t *testing.T) {
	names := []string{
		"X-Original-URL", "x-original-url", "X_Original_URL", "X-Rewrite-URL", "x_rewrite_url",
		"X-Original-URI", "X_Original_URI", "X-Forwarded-Uri", "x_forwarded_uri",
		"X-Original-Method", "x_original_method", "X-Forwarded-Method", "X_Forwarded_Method",
	}
	forEachGateway(t, func(t *testing.T, st *stack) {
		staffTok := st.token(t, staff)
		for _, name := range names {
			for _, c := range []struct {
				target string
				who    *user
			}{{"/index.html", nil}, {"/api/v1/tasks/1", &staff}} {
				t.Run(name+" on "+c.target, func(t *testing.T) {
					value := "/api/v1/settings"
					if strings.HasSuffix(strings.ToLower(name), "method") {
						value = "DELETE"
					}
					hdr := []field{{name, value}}
					if c.who != nil {
						hdr = append(hdr, bearerOf(staffTok))
					}
					a := st.send(t, request{Method: "GET", Target: c.target, Header: hdr})
					if st.check(t, c.who, a) != reachedJack {
						return // refused: fine
					}
					for got, vals := range a.Jack[0].Header {
						if foldName(got) == foldName(name) {
							t.Errorf("%s: Jack got %s: %q", a, got, vals)
						}
					}
				})
			}
		}
	})
}
