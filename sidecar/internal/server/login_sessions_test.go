package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

// loginAs posts a staff login with pw to h, under ctx.
func loginAs(ctx context.Context, h http.Handler, pw string) *httptest.ResponseRecorder {
	r := request("POST", "/api/v1/auth/login", "Content-Type", "application/json").WithContext(ctx)
	r.Body = ioNopCloser(`{"email":"staff@example.com","password":"` + pw + `"}`)
	r.RemoteAddr = "192.0.2.7:1234"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestALoginInTheSecondTheSessionsEndedStartsASessionEveryReplicaAccepts:
// the operator rounds a user's sessionsValidAfter up to the second and
// login times are whole seconds, so a login in the second the sessions
// ended — after the end, since this sidecar already knows of it — would
// start a session every replica refuses. It waits for that second instead.
func TestALoginInTheSecondTheSessionsEndedStartsASessionEveryReplicaAccepts(t *testing.T) {
	tm := newTeam(t)
	staff := tm.ids[jack.RoleStaff]
	live := &liveView{known: true, users: map[string]LiveUser{staff: {Role: jack.RoleStaff, PasswordVersion: "1"}}}
	a, b := newServer(t, tm, Config{Live: live}), newServer(t, tm, Config{Live: live})
	ctx := context.Background()

	for round := range 3 {
		// The sessions end now; the status says so from the next second.
		ended := time.Now().UTC().Truncate(time.Second).Add(time.Second)
		live.users[staff] = LiveUser{Role: jack.RoleStaff, PasswordVersion: "1", SessionsValidAfter: ended}

		if w := loginAs(ctx, a, "not the password"); w.Code != http.StatusUnauthorized || !time.Now().Before(ended) {
			t.Fatalf("round %d: a wrong password: %d (answered after the end second: %t); want 401 at once", round, w.Code, !time.Now().Before(ended))
		}
		start := time.Now()
		w := loginAs(ctx, a, "a team password")
		took := time.Since(start)
		env := grantOf(t, w)
		if w.Code != http.StatusOK || env.Data.Token == "" {
			t.Fatalf("round %d: a login in the second the sessions ended: %d %s", round, w.Code, env.Error.Code)
		}
		if took > maxSessionsEndHold {
			t.Errorf("round %d: the login was held %s, more than %s", round, took, maxSessionsEndHold)
		}
		claims, err := tm.src.keys.Verifier.Verify(env.Data.Token, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if claims.AuthTime.Before(ended) {
			t.Errorf("round %d: the session began at %s, before the sessions' end %s", round, claims.AuthTime, ended)
		}
		for name, h := range map[string]http.Handler{"the replica that issued it": a, "another replica": b} {
			if !accepted(h, env.Data.Token) {
				t.Errorf("round %d: %s refuses a token of a login made after the sessions ended", round, name)
			}
		}
	}

	// An end further ahead than a second or two is the operator's clock
	// running ahead of this one: the client is told when to come back, and
	// no token is handed out that no replica would accept.
	live.users[staff] = LiveUser{Role: jack.RoleStaff, PasswordVersion: "1", SessionsValidAfter: time.Now().Add(time.Minute)}
	start := time.Now()
	w := loginAs(ctx, a, "a team password")
	env := grantOf(t, w)
	if w.Code != http.StatusServiceUnavailable || env.Error.Code != "SERVICE_UNAVAILABLE" || env.Data.Token != "" {
		t.Errorf("a login a minute before the sessions' end: %d %s (a token: %t); want 503 SERVICE_UNAVAILABLE and no token", w.Code, env.Error.Code, env.Data.Token != "")
	}
	if ra := w.Header().Get("Retry-After"); ra != "60" && ra != "59" {
		t.Errorf("Retry-After %q, want the minute until the end", ra)
	}
	if time.Since(start) > time.Second {
		t.Errorf("the refusal took %s: it must not hold the login", time.Since(start))
	}

	// A client that leaves while held gets nothing, and holds nothing.
	live.users[staff] = LiveUser{Role: jack.RoleStaff, PasswordVersion: "1", SessionsValidAfter: time.Now().Add(maxSessionsEndHold - 100*time.Millisecond)}
	gone, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if w := loginAs(gone, a, "a team password"); strings.Contains(w.Body.String(), "token") {
		t.Error("a client that left while held was handed a token")
	}
}

// grantAnswer is a login's answer in the envelope.
type grantAnswer struct {
	Data struct {
		Token string `json:"token"`
	} `json:"data"`
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

func grantOf(t *testing.T, w *httptest.ResponseRecorder) grantAnswer {
	t.Helper()
	var g grantAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &g); err != nil {
		t.Fatalf("%d, not the envelope: %q", w.Code, w.Body)
	}
	return g
}

// accepted reports whether h lets tok through /auth.
func accepted(h http.Handler, tok string) bool {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+tok))
	return w.Code == http.StatusOK
}
