package gateways

import (
	"fmt"
	"sync"
	"testing"
)

// TestLoginThrottlingCountsEachClientBehindTheGateway bursts wrong
// passwords from one client address through each gateway: that client is
// throttled (429 with the envelope), however it spells X-Forwarded-For, and
// another client's login through the same gateway is not. The sidecar
// sees only the gateway's address; it tells the clients apart by the
// X-Forwarded-For the gateway, a trusted proxy, sets.
func TestLoginThrottlingCountsEachClientBehindTheGateway(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		greedy, other := nextClient(), nextClient()
		// Each attempt names another unknown account, so that only the
		// client's own limit can stop them.
		var throttled answer
		for i := range 30 {
			a := st.login(t, greedy, fmt.Sprintf("nobody-%d@example.com", i), "wrong password")
			st.check(t, nil, a)
			if a.Status == 429 {
				throttled = a
				break
			}
			if a.Status != 401 {
				t.Fatalf("attempt %d: %s, want 401 or 429", i, a)
			}
		}
		if throttled.Status != 429 || throttled.Envelope.Error.Code != "TOO_MANY_REQUESTS" || throttled.Header.Get("Retry-After") == "" {
			t.Fatalf("30 wrong passwords from one client were never throttled with 429 TOO_MANY_REQUESTS and Retry-After (last: %s)", throttled)
		}
		t.Run("the throttled client stays throttled whatever X-Forwarded-For it sends", func(t *testing.T) {
			for _, xff := range []string{"10.1.2.3", "127.0.0.1", "10.1.2.4, 10.1.2.5", "unknown", "127.0.1.250"} {
				a := st.send(t, request{Method: "POST", Target: "/api/v1/auth/login", From: greedy,
					Header: h("Content-Type", "application/json", "X-Forwarded-For", xff, "X-Real-IP", "10.9.9.9", "Forwarded", "for=10.8.8.8"),
					Body:   `{"email":"nobody@example.com","password":"wrong password"}`})
				st.check(t, nil, a)
				if a.Status != 429 {
					t.Errorf("X-Forwarded-For: %s: %s, want 429", xff, a)
				}
			}
		})
		t.Run("another client logs in", func(t *testing.T) {
			a := st.login(t, other, staff.email, passwordOf(staff))
			if st.check(t, nil, a) != answeredBySidecar || a.Status != 200 {
				t.Errorf("%s, want 200: one client's burst throttled another", a)
			}
		})
		t.Run("the gateway tells the sidecar who the client is", func(t *testing.T) {
			a := st.login(t, other, staff.email, passwordOf(staff))
			if len(a.Sidecar) != 1 {
				t.Fatalf("the sidecar got %d requests", len(a.Sidecar))
			}
			if got := a.Sidecar[0].Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != other {
				t.Errorf("the sidecar got X-Forwarded-For %q, want [%s]", got, other)
			}
		})
	})
}

// TestRefreshIsThrottledPerToken refreshes one token in a burst through
// each gateway: past the sidecar's allowance the answer is 429 with the
// envelope and Retry-After, as the sidecar gave it.
func TestRefreshIsThrottledPerToken(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		// A session of its own: a refresh supersedes the token it refreshes,
		// and the stack's shared token would end for the tests after this
		// one that use it past the 10 s grace.
		in := st.login(t, "", manager.email, passwordOf(manager))
		if in.Status != 200 || in.Envelope.Data.Token == "" {
			t.Fatalf("login: %s", in)
		}
		tok := in.Envelope.Data.Token
		var mu sync.Mutex
		codes := map[int]int{}
		for range 6 {
			a := st.send(t, request{Method: "POST", Target: "/api/v1/auth/refresh", Header: []field{bearerOf(tok)}})
			st.check(t, nil, a)
			mu.Lock()
			codes[a.Status]++
			mu.Unlock()
			if a.Status == 429 && (a.Envelope.Error.Code != "TOO_MANY_REQUESTS" || a.Header.Get("Retry-After") == "") {
				t.Errorf("%s: want TOO_MANY_REQUESTS with Retry-After", a)
			}
		}
		if codes[429] == 0 {
			t.Errorf("6 refreshes of one token: %v, want some 429", codes)
		}
	})
}
