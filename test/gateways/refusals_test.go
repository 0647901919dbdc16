package gateways

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// TestEveryRefusalReachesTheClientAsTheSidecarGaveIt makes the sidecar
// refuse a request at /auth with each status it uses and checks that the
// client gets that status and the sidecar's JSON envelope, not the
// gateway's page (nginx's auth_request turns anything but 401 and 403 into
// a 500, and drops the body of those two).
func TestEveryRefusalReachesTheClientAsTheSidecarGaveIt(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		staffTok, adminTok := st.token(t, staff), st.token(t, admin)
		cases := map[string]struct {
			req    request
			status int
			code   string
		}{
			"400 for an unclean path":           {request{Method: "GET", Target: "/api/v1/tasks/..%2Fsettings", Header: []field{bearerOf(staffTok)}}, 400, "BAD_REQUEST"},
			"400 for two credentials":           {request{Method: "GET", Target: "/api/v1/tasks", Header: h("Authorization", "Bearer "+staffTok+", Bearer "+adminTok)}, 400, "AMBIGUOUS_CREDENTIALS"},
			"400 for a method override":         {request{Method: "GET", Target: "/api/v1/tasks", Header: []field{bearerOf(staffTok), {"X-HTTP-Method-Override", "DELETE"}}}, 400, "AMBIGUOUS_REQUEST"},
			"400 for a forged identity":         {request{Method: "GET", Target: "/api/v1/tasks", Header: []field{bearerOf(staffTok), {"X-Jack-User-Role", "admin"}}}, 400, "FORGED_IDENTITY"},
			"401 without a token":               {request{Method: "DELETE", Target: "/api/v1/tasks/1"}, 401, "TOKEN_MISSING"},
			"401 for a bad token":               {request{Method: "POST", Target: "/api/v1/tasks", Header: h("Authorization", "Bearer x.y.z"), Body: `{"x":1}`}, 401, "TOKEN_INVALID"},
			"403 for a role that may not":       {request{Method: "PUT", Target: "/api/v1/settings", Header: []field{bearerOf(staffTok)}, Body: `{"x":1}`}, 403, "FORBIDDEN"},
			"403 for a role that may not, HEAD": {request{Method: "HEAD", Target: "/api/v1/users", Header: []field{bearerOf(staffTok)}}, 403, ""},
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				a := st.send(t, c.req)
				if st.check(t, nil, a) != answeredBySidecar || a.Status != c.status || a.Envelope.Error.Code != c.code {
					t.Errorf("%s: want %d %s", a, c.status, c.code)
				}
			})
		}
	})
}

// TestAGatewayThatAsksAboutTheAuthAPIShowsIt breaks the documented
// configuration the way a hurried operator might, sending the auth API
// through /auth to Jack instead of to the sidecar: every login is refused
// with 421 MISDIRECTED_REQUEST, which reaches the client, and Jack never
// sees a password.
func TestAGatewayThatAsksAboutTheAuthAPIShowsIt(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		for _, target := range []string{"/api/v1/auth/login", "/API/V1/AUTH/LOGIN", "/api/v1/auth/refresh", "/api/v1/auth/me"} {
			a := st.send(t, request{Method: "POST", Target: target, Header: h("Content-Type", "application/json"),
				Body: `{"email":"` + staff.email + `","password":"` + passwordOf(staff) + `"}`})
			if st.check(t, nil, a) != answeredBySidecar || a.Status != 421 || a.Envelope.Error.Code != "MISDIRECTED_REQUEST" {
				t.Errorf("%s: want 421 MISDIRECTED_REQUEST", a)
			}
		}
	}, withEdit(func(conf string) string {
		// nginx: the auth API's location matches nothing; Traefik: the
		// auth API's router matches nothing.
		conf = strings.Replace(conf, "location ~* ^/api/v1/auth(?:[/.]|$)", "location = /nowhere", 1)
		return strings.Replace(conf, "PathRegexp(`(?i)^/api/v1/auth([/.]|$)`)", "Path(`/nowhere`)", 1)
	}))
}

// TestTooManyRequestsInFlightReachTheClientAs429 holds the one request in
// flight a client may have (--max-in-flight-per-client=1) by sending a
// login body slowly, as the gateway would on the client's behalf, then
// sends that client's next request through the gateway: /auth refuses it
// with 429, and the client gets the 429 and the envelope.
func TestTooManyRequestsInFlightReachTheClientAs429(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		client := nextClient()
		// The slow request, straight to the sidecar from the gateway's
		// address, for the client the gateway names.
		conn, err := net.Dial("tcp", st.sidecar.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		_, _ = fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: jack\r\nContent-Type: application/json\r\nX-Forwarded-For: %s\r\nContent-Length: 100\r\n\r\n{", client)
		time.Sleep(200 * time.Millisecond) // the sidecar is reading the body now

		a := st.send(t, request{Method: "GET", Target: "/api/v1/tasks", From: client, Header: []field{bearerOf(st.token(t, staff))}})
		if st.check(t, &staff, a) != answeredBySidecar || a.Status != 429 || a.Envelope.Error.Code != "TOO_MANY_REQUESTS" || a.Header.Get("Retry-After") == "" {
			t.Errorf("%s: want 429 TOO_MANY_REQUESTS with Retry-After", a)
		}
		// Another client is not held up.
		if b := st.send(t, request{Method: "GET", Target: "/api/v1/tasks", Header: []field{bearerOf(st.token(t, staff))}}); st.check(t, &staff, b) != reachedJack {
			t.Errorf("another client: %s", b)
		}
		// Once the slow request ends, the client is served again.
		_ = conn.Close()
		_, _ = io.Copy(io.Discard, conn)
		poll.True(t, 5*time.Second, "the client to be served again", func() bool {
			return st.send(t, request{Method: "GET", Target: "/api/v1/tasks", From: client, Header: []field{bearerOf(st.token(t, staff))}}).Status == 200
		})
	}, withSidecarArgs("--max-in-flight-per-client=1"))
}
