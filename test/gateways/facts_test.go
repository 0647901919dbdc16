package gateways

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// These tests pin down what each gateway, configured as documented, sends
// to the sidecar and to Jack: the facts docs/gateways.md states. They log
// what they saw (go test -v) so the table there can be checked by eye.

// questions are the gateway's requests to /auth for one client request.
func questions(a answer) []seen {
	var out []seen
	for _, s := range a.Sidecar {
		if strings.HasPrefix(s.URI, "/auth") {
			out = append(out, s)
		}
	}
	return out
}

func TestWhatEachGatewayTellsTheSidecarAndJack(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		tok := st.token(t, admin)
		headers := []field{
			bearerOf(tok), {"X-Forwarded-For", "10.0.0.1"}, {"X-Forwarded-Uri", "/index.html"}, {"X-Forwarded-Method", "GET"},
			{"X-Original-URI", "/index.html"}, {"X-Real-IP", "10.1.1.1"}, {"X_Custom", "u"}, {"X-Dup", "1"}, {"X-Dup", "2"},
		}
		if st.gw.name == "traefik" {
			// forwardAuth passes every client header, the other dialect's
			// too, and the sidecar refuses those: Jack could route by them.
			a := st.send(t, request{Method: "POST", Target: "/api/v1/tasks?x=1", Body: `{"title":"t"}`, Header: headers})
			if q := questions(a); len(q) != 1 || q[0].Header.Get("X-Original-Uri") != "/index.html" || a.Status != 400 || len(a.Jack) != 0 {
				t.Fatalf("a client's X-Original-URI through Traefik: %s", a)
			}
			headers = slices.DeleteFunc(headers, func(f field) bool { return f.Name == "X-Original-URI" })
		}
		a := st.send(t, request{Method: "POST", Target: "/api/v1/tasks?x=1", Body: `{"title":"t"}`, Header: headers})
		if st.check(t, &admin, a) != reachedJack {
			t.Fatalf("%s", a)
		}
		q := questions(a)
		if len(q) != 1 {
			t.Fatalf("%s asked /auth %d times for an allowed request", st.gw.name, len(q))
		}
		ask, j := q[0], a.Jack[0]
		t.Logf("%s asks: %s %s with %s", st.gw.name, ask.Method, ask.URI, headerList(ask.Header))
		t.Logf("Jack gets: %s %s with %s", j.Method, j.URI, headerList(j.Header))

		want := map[string]string{}
		switch st.gw.name {
		case "nginx":
			want = map[string]string{
				"method": "GET", "uri": "/auth", "X-Original-Method": "POST", "X-Original-Uri": "/api/v1/tasks?x=1",
				// $proxy_add_x_forwarded_for appends; the sidecar takes the
				// right-most address that is not a trusted proxy.
				"X-Forwarded-For": "10.0.0.1, " + st.client,
				"X-Forwarded-Uri": "", "X-Forwarded-Method": "", "Content-Length": "",
				// A header with "_" in its name is dropped, for /auth and Jack.
				"X_custom": "", "Jack X_custom": "",
				// Headers naming another URL are cleared for Jack; other
				// client headers pass untouched.
				"Jack X-Forwarded-Uri": "", "Jack X-Original-Uri": "", "Jack X-Forwarded-Method": "", "Jack X-Real-Ip": "10.1.1.1",
				"X-Dup": "1|2",
			}
		case "traefik":
			want = map[string]string{
				"method": "GET", "uri": "/auth", "X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/api/v1/tasks?x=1",
				// The entry point drops a client's X-Forwarded-* and
				// X-Real-Ip, then sets its own.
				"X-Forwarded-For": st.client, "X-Real-Ip": st.client, "Jack X-Real-Ip": st.client,
				"Jack X-Forwarded-Uri": "", "Jack X-Original-Uri": "", "Content-Length": "",
				// Headers with "_" pass, to /auth and to Jack.
				"X_custom": "u", "Jack X_custom": "u",
				"X-Dup": "1|2",
			}
		}
		for k, w := range want {
			var got string
			switch {
			case k == "method":
				got = ask.Method
			case k == "uri":
				got = ask.URI
			case strings.HasPrefix(k, "Jack "):
				got = strings.Join(j.Header[strings.TrimPrefix(k, "Jack ")], "|")
			default:
				got = strings.Join(ask.Header[k], "|")
			}
			if got != w {
				t.Errorf("%s: %s = %q, want %q", st.gw.name, k, got, w)
			}
		}

		t.Run("the URI each spelling is decided and forwarded as", func(t *testing.T) {
			for _, target := range []string{
				"/api/v1/%73ettings", "//api/v1/settings", "/api/v1/tasks/../settings", "/API/v1/Settings",
				"/api/v1/tasks/..%2Fsettings", "/api/v1/tasks;/settings", "/api/v1/settings/", "/api/v1/tasks/%2e%2e/settings",
				"http://jack.example.com/api/v1/settings", "/api/v1/settings#frag",
			} {
				a := st.send(t, request{Method: "GET", Target: target, Header: []field{bearerOf(tok)}})
				st.check(t, &admin, a)
				_, decided := st.decided(a)
				forwarded := "-"
				if len(a.Jack) > 0 {
					forwarded = a.Jack[0].URI
				}
				if decided == "" {
					decided = "-"
				}
				t.Logf("| %s | `%s` | `%s` | `%s` | %s |", st.gw.name, target, decided, forwarded, a.summary())
			}
		})

		t.Run("a refusal", func(t *testing.T) {
			a := st.send(t, request{Method: "DELETE", Target: "/api/v1/settings", Header: []field{bearerOf(st.token(t, staff))}})
			if st.check(t, &staff, a) != answeredBySidecar || a.Status != 403 {
				t.Fatalf("%s", a)
			}
			asks := len(questions(a))
			t.Logf("%s asked /auth %d times for a refusal", st.gw.name, asks)
			// nginx asks again in @jack_refusal for the body.
			if want := map[string]int{"nginx": 2, "traefik": 1}[st.gw.name]; asks != want {
				t.Errorf("%s asked /auth %d times, want %d", st.gw.name, asks, want)
			}
		})

		t.Run("the web app", func(t *testing.T) {
			a := st.send(t, request{Method: "GET", Target: "/index.html"})
			if st.check(t, nil, a) != reachedJack {
				t.Fatalf("%s", a)
			}
			j := a.Jack[0]
			var present []string
			for _, h := range []string{"X-Jack-User-Id", "X-Jack-User-Email", "X-Jack-User-Role", "X-Auth-Request-User", "X-Auth-Request-Email"} {
				if v, ok := j.Header[h]; ok {
					present = append(present, fmt.Sprintf("%s=%q", h, v))
				}
			}
			t.Logf("%s: Jack gets the identity headers of a public path as %v", st.gw.name, present)
			// nginx sends no header with an empty value; Traefik copies the
			// sidecar's empty ones.
			if want := map[string]int{"nginx": 0, "traefik": 5}[st.gw.name]; len(present) != want {
				t.Errorf("%d identity headers present, want %d", len(present), want)
			}
		})
	})
}

// TestNginxPassesClientHeadersToTheSubrequestUnlessTheyAreSet removes the
// documented clearing of the other dialects' headers: the client's
// X-Forwarded-Uri then reaches /auth beside nginx's X-Original-URI, and the
// sidecar refuses the request: Jack could route by that header.
func TestNginxPassesClientHeadersToTheSubrequestUnlessTheyAreSet(t *testing.T) {
	st := newStack(t, gateways[0], withEdit(func(conf string) string {
		return strings.ReplaceAll(conf, "proxy_set_header X-Forwarded-Uri \"\";", "")
	}))
	a := st.send(t, request{Method: "GET", Target: "/api/v1/settings", Header: h("X-Forwarded-Uri", "/index.html")})
	st.check(t, nil, a)
	q := questions(a)
	if len(q) == 0 || q[0].Header.Get("X-Forwarded-Uri") != "/index.html" {
		t.Fatalf("the subrequest did not get the client's X-Forwarded-Uri: %v", q)
	}
	if a.Status != 400 || !strings.Contains(a.Body, "AMBIGUOUS_REQUEST") {
		t.Errorf("%s: want 400 AMBIGUOUS_REQUEST (a header naming another URL)", a)
	}
}

func headerList(h map[string][]string) string {
	var out []string
	for k, v := range h {
		if k == "Authorization" {
			v = []string{"Bearer …"}
		}
		out = append(out, k+": "+strings.Join(v, ", "))
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}
