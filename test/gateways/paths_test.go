package gateways

import (
	"testing"
)

// spellings are ways to write a path that a router might read as another:
// case, slashes, dot segments, escapes, parameters, suffixes. Each names
// settings (which only admin may call) or tasks (which staff may call) in
// some reading.
var spellings = []string{
	// case
	"/API/v1/settings", "/api/V1/Settings", "/Api/V1/SETTINGS", "/API/V1/TASKS",
	// slashes
	"/api/v1/settings/", "/api/v1/settings//", "//api/v1/settings", "/api//v1/settings", "/api/v1//settings",
	// suffixes and parameters
	"/api/v1/settings.json", "/api/v1/settings;jsessionid=1", "/api/v1/tasks;/settings", "/api/v1/tasks;/../settings",
	"/api/v1/tasks/..;/settings", "/api;/v1/settings", "/api/v1/settings?x=1", "/api/v1/settings?",
	// dot segments
	"/api/v1/tasks/../settings", "/api/v1/./settings", "/api/v1/tasks/./../settings", "/api/v1/tasks/../../v1/settings",
	"/api/v1/tasks/..", "/api/v1/tasks/.", "/./api/v1/settings", "/api/v1/tasks/.../settings",
	// escapes
	"/api/v1/%73ettings", "/api/v1/%53ettings", "/%61pi/v1/settings", "/api/v1/settings%2F", "/api/v1/tasks/..%2Fsettings",
	"/api/v1/tasks%2F..%2Fsettings", "/api/v1/tasks/%2e%2e/settings", "/api/v1/tasks/%2E%2E%2Fsettings",
	"/api/v1/tasks/%252e%252e/settings", "/api/v1/tasks/..%5Csettings", "/api/v1/tasks/%2e%2e%5csettings",
	"/api/v1/settings%00", "/api/v1/settings%20", "/api/v1/settings%3F", "/api/v1/settings%23", "/api/v1/tasks%3B/../settings",
	"/api/v1/tasks/%E2%80%A6/settings", "/api/v1/tasks/%C0%AE%C0%AE/settings",
	// backslashes
	`/api/v1/tasks/..\settings`, `/api\v1\settings`,
	// other spellings of the API prefix
	"/api.json/v1/settings", "/apiv1/settings", "/api/v1.0/settings", "/api/v2/settings",
	// absolute and odd targets
	"http://jack.example.com/api/v1/settings", "HTTP://jack.example.com/api/v1/settings",
	"/api/v1/settings#x", "/api/v1/tasks#/../settings",
}

// TestEverySpellingOfAPathIsDecidedAsJackReadsIt sends each spelling
// through each gateway with no token, staff's and admin's: a request
// reaches Jack only if, under every reading of the URI Jack got, the caller
// may call it, and only as the sidecar decided (check); otherwise the
// client gets the sidecar's refusal, or the gateway's own for a request it
// cannot parse.
func TestEverySpellingOfAPathIsDecidedAsJackReadsIt(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		callers := []*user{nil, &staff, &manager, &admin}
		tokens := map[string]string{}
		for _, u := range users {
			tokens[u.id] = st.token(t, u)
		}
		for _, target := range spellings {
			for _, who := range callers {
				for _, method := range []string{"GET", "DELETE"} {
					t.Run(method+" "+target+" as "+nameOf(who), func(t *testing.T) {
						var hdr []field
						if who != nil {
							hdr = []field{bearerOf(tokens[who.id])}
						}
						a := st.send(t, request{Method: method, Target: target, Header: hdr})
						st.check(t, who, a)
						t.Logf("%s: %s %s as %s: %s", st.gw.name, method, target, nameOf(who), a.summary())
					})
				}
			}
		}
	})
}
