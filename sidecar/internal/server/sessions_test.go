package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// clocked is a sidecar whose clock the test moves, with its log and
// metrics at hand.
type clocked struct {
	t   *testing.T
	tm  *team
	h   http.Handler
	now time.Time
	reg *prometheus.Registry
	mu  sync.Mutex
	log strings.Builder
}

// newClocked serves tm's users over tm's ring from t0, with cfg's live
// view of users, if any.
func newClocked(t *testing.T, tm *team, t0 time.Time, cfg Config) *clocked {
	t.Helper()
	c := &clocked{t: t, tm: tm, now: t0, reg: prometheus.NewRegistry()}
	clock := func() time.Time { return c.now }
	revs, err := revocation.Open("", t0, revocation.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Source, cfg.Revocations, cfg.Now, cfg.Registry = tm.src, revs, clock, c.reg
	cfg.Log = funcr.New(func(prefix, args string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.log.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{})
	if c.h, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *clocked) advance(d time.Duration) { c.now = c.now.Add(d) }

func (c *clocked) logText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// answer is an answer in the envelope, with the grant of a login or
// refresh.
type answer struct {
	code  int
	token string
	exp   time.Time
	err   refusal
}

// refusal is an answer's error.
type refusal struct {
	Code    api.Code `json:"code"`
	Message string   `json:"message"`
}

// login signs a staff token as a login at the clock's time does.
func (c *clocked) login() string {
	c.t.Helper()
	u, _ := c.tm.src.users.Index.ByID(c.tm.ids[jack.RoleStaff])
	tok, _, err := token.Sign(c.tm.ring, c.tm.ring.Active(), subjectOf(*u), token.Session{}, c.now)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

func (c *clocked) call(method, target, tok string) answer {
	c.t.Helper()
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, request(method, target, "Authorization", "Bearer "+tok))
	var env struct {
		Data struct {
			Token     string `json:"token"`
			ExpiresAt string `json:"expiresAt"`
		} `json:"data"`
		Error refusal `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		c.t.Fatalf("%s %s: %d, not the envelope: %q", method, target, w.Code, w.Body)
	}
	a := answer{code: w.Code, token: env.Data.Token, err: env.Error}
	if env.Data.ExpiresAt != "" {
		a.exp, _ = time.Parse(time.RFC3339, env.Data.ExpiresAt)
	}
	return a
}

// refreshed refreshes tok, which must succeed, and returns the new token.
func (c *clocked) refreshed(tok string) answer {
	c.t.Helper()
	a := c.refresh(tok)
	if a.code != http.StatusOK || a.token == "" {
		c.t.Fatalf("refresh at %s: %d %s %q", c.now.Format(time.TimeOnly), a.code, a.err.Code, a.err.Message)
	}
	return a
}

func (c *clocked) refresh(tok string) answer { return c.call("POST", "/api/v1/auth/refresh", tok) }
func (c *clocked) logout(tok string) answer  { return c.call("POST", "/api/v1/auth/logout", tok) }

// accepts reports whether tok gets through /auth now.
func (c *clocked) accepts(tok string) bool {
	c.t.Helper()
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+tok))
	return w.Code == http.StatusOK
}

func (c *clocked) refusedAs(tok string) refusal {
	c.t.Helper()
	return c.call("GET", "/auth/api/v1/tasks", tok).err
}

// sessionTeam is a team whose ring ends sessions lifetime after login
// (the CRD's minimum is an hour; the server takes what the ring says).
func sessionTeam(t *testing.T, ttl, lifetime time.Duration) *team {
	tm := newTeam(t)
	tm.ring.TokenTTL, tm.ring.SessionLifetime = ttl, lifetime
	tm.src.keys = NewKeys(tm.ring)
	return tm
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func TestARefreshedTokenWorksForItsGraceThenEndsItsSession(t *testing.T) {
	c := newClocked(t, newTeam(t), t0, Config{})
	first := c.login()
	c.advance(time.Second)
	second := c.refreshed(first).token

	c.advance(jack.RefreshGrace - time.Second)
	if !c.accepts(first) || !c.accepts(second) {
		t.Fatal("within the grace the replaced token or its successor is refused")
	}
	// A client's second refresh of the replaced token, within the grace,
	// gets another token of the newest generation: it does not restart
	// the grace.
	also := c.refreshed(first).token
	c.advance(time.Second)
	if c.accepts(first) {
		t.Fatal("the replaced token is accepted past its grace")
	}
	if e := c.refusedAs(first); e.Code != api.CodeTokenInvalid || e.Message != errSessionReused.Message {
		t.Errorf("the replaced token past its grace: %s %q", e.Code, e.Message)
	}
	for name, tok := range map[string]string{"the refreshed token": second, "the token refreshed twice": also} {
		if e := c.refusedAs(tok); e.Code != api.CodeTokenInvalid || e.Message != errSessionReused.Message {
			t.Errorf("%s, once the session ended for reuse: %s %q", name, e.Code, e.Message)
		}
	}
	if r := c.refresh(second); r.code != http.StatusUnauthorized || r.err.Code != api.CodeTokenInvalid {
		t.Errorf("a refresh in the ended session: %d %s", r.code, r.err.Code)
	}

	// One audit line and one count, however often the copy is used.
	c.accepts(first)
	if n := counterValue(t, c.reg, "jack_sidecar_sessions_ended_for_reuse_total"); n != 1 {
		t.Errorf("jack_sidecar_sessions_ended_for_reuse_total = %v, want 1", n)
	}
	log := c.logText()
	if n := strings.Count(log, "used again after its grace"); n != 1 {
		t.Errorf("%d audit lines of the reuse; want 1. The log:\n%s", n, log)
	}
	sid := sessionIDOf(t, c.tm, first, t0)
	for _, secret := range []string{first, second, sid} {
		if strings.Contains(log, secret) {
			t.Errorf("the log quotes a token or the session id:\n%s", log)
		}
	}
	if !strings.Contains(log, jack.SessionRevocationName(sid)) || !strings.Contains(log, c.tm.ids[jack.RoleStaff]) {
		t.Errorf("the audit line does not name the session's revocation and the user:\n%s", log)
	}
}

func TestALogoutWithAnyTokenOfASessionEndsEveryOne(t *testing.T) {
	c := newClocked(t, newTeam(t), t0, Config{})
	first := c.login()
	c.advance(time.Second)
	middle := c.refreshed(first).token
	c.advance(time.Second)
	newest := c.refreshed(middle).token
	other := c.login() // another session of the same user

	if r := c.logout(middle); r.code != http.StatusOK {
		t.Fatalf("the logout with the middle token: %d %s", r.code, r.err.Code)
	}
	for name, tok := range map[string]string{"the login's token": first, "the middle token": middle, "the newest token": newest} {
		if e := c.refusedAs(tok); e.Code != api.CodeTokenInvalid || e.Message != errLoggedOut.Message {
			t.Errorf("%s after the logout: %s %q", name, e.Code, e.Message)
		}
	}
	if r := c.refresh(newest); r.code != http.StatusUnauthorized {
		t.Errorf("a refresh of the newest token after the logout: %d", r.code)
	}
	// A logout again, with any token of it, answers as the first did.
	if r := c.logout(newest); r.code != http.StatusOK {
		t.Errorf("a second logout with another token of the session: %d %s", r.code, r.err.Code)
	}
	if !c.accepts(other) {
		t.Error("another session of the same user ended with the logout")
	}
	// Past the grace the replaced tokens are still refused as logged out:
	// a logout is not a reuse.
	c.advance(time.Minute)
	if e := c.refusedAs(first); e.Message != errLoggedOut.Message {
		t.Errorf("the login's token of the logged-out session, past its grace: %q", e.Message)
	}
	if n := counterValue(t, c.reg, "jack_sidecar_sessions_ended_for_reuse_total"); n != 0 {
		t.Errorf("a logout counted %v reuses", n)
	}
}

func TestASessionEndsAtItsLifetimeHoweverOftenItIsRefreshed(t *testing.T) {
	// Tokens of an hour, sessions of three: the third hour's tokens are
	// cut short at the session's end.
	c := newClocked(t, sessionTeam(t, time.Hour, 3*time.Hour), t0, Config{})
	end := t0.Add(3 * time.Hour)
	tok := c.login()
	for c.now.Before(end.Add(-time.Minute)) {
		c.advance(50 * time.Minute)
		if c.now.After(end) {
			c.now = end.Add(-time.Second)
		}
		r := c.refreshed(tok)
		if r.exp.After(end) {
			t.Fatalf("a token refreshed at %s expires at %s, after its session's end %s", c.now.Format(time.TimeOnly), r.exp.Format(time.TimeOnly), end.Format(time.TimeOnly))
		}
		want := c.now.Add(time.Hour)
		if want.After(end) {
			want = end
		}
		if !r.exp.Equal(want) {
			t.Errorf("refreshed at %s: expiresAt %s, want %s", c.now.Format(time.TimeOnly), r.exp.Format(time.TimeOnly), want.Format(time.TimeOnly))
		}
		tok = r.token
	}
	// At the end the last token has expired too; within the verifiers'
	// leeway it still verifies, and its refresh is what says the session
	// is over.
	c.now = end.Add(10 * time.Second)
	r := c.refresh(tok)
	if r.code != http.StatusUnauthorized || r.err.Code != api.CodeTokenExpired || r.err.Message != "Your session has expired. Please login again." {
		t.Errorf("a refresh past the session's end: %d %s %q; want 401 TOKEN_EXPIRED with the contract's message", r.code, r.err.Code, r.err.Message)
	}
}

func TestATokenRefreshedAfterItsLoginIsRefusedOnceTheUsersSessionsEnd(t *testing.T) {
	tm := newTeam(t)
	staff := tm.ids[jack.RoleStaff]
	live := &liveView{known: true, users: map[string]LiveUser{staff: {Role: jack.RoleStaff, PasswordVersion: "1"}}}
	c := newClocked(t, tm, t0, Config{Live: live})
	tok := c.login()
	c.advance(10 * time.Minute)
	refreshed := c.refreshed(tok).token
	c.advance(time.Minute)
	later := c.login()

	// The sessions end between the login and the refresh: the refreshed
	// token was issued after, but its session began before.
	live.users[staff] = LiveUser{Role: jack.RoleStaff, PasswordVersion: "1", SessionsValidAfter: t0.Add(5 * time.Minute)}
	for name, tok := range map[string]string{"the login's token": tok, "the token refreshed after the end": refreshed} {
		if e := c.refusedAs(tok); e.Code != api.CodeTokenExpired {
			t.Errorf("%s: %s, want TOKEN_EXPIRED", name, e.Code)
		}
	}
	if !c.accepts(later) {
		t.Error("a session that began after the end is refused")
	}
}

func TestATokenFromBeforeSessionsIsRefreshedIntoOneThatEndsWhenItsLoginWould(t *testing.T) {
	tm := sessionTeam(t, time.Hour, 3*time.Hour)
	c := newClocked(t, tm, t0, Config{})
	old := tm.signClaimsAt(t, t0, "pre-sessions")
	c.advance(time.Hour - time.Minute)
	r := c.refreshed(old)
	claims, err := tm.src.keys.Verifier.Verify(r.token, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if claims.SessionID == "" || !claims.AuthTime.Equal(t0) || claims.SessionGeneration != 0 {
		t.Errorf("the refreshed token's session: sid %t, auth_time %s, generation %d; want a new one from the old token's iat",
			claims.SessionID != "", claims.AuthTime, claims.SessionGeneration)
	}
	// The old token is not superseded (it has no session to be
	// superseded in): it works until its own expiry.
	c.advance(time.Minute)
	if !c.accepts(old) {
		t.Error("the token from before sessions is refused after its refresh")
	}
	// Its logout is by jti, as before; the session it was refreshed into
	// is another matter.
	if a := c.logout(old); a.code != http.StatusOK || c.accepts(old) || !c.accepts(r.token) {
		t.Errorf("the logout of the token from before sessions: %d; old accepted %v, refreshed accepted %v", a.code, c.accepts(old), c.accepts(r.token))
	}
}

func TestARefreshTheStoreCannotRecordIsRefusedAndTheTokenKeepsWorking(t *testing.T) {
	tm := newTeam(t)
	revs, err := revocation.Open("", time.Now(), revocation.Options{MaxPerSubject: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Source: tm.src, Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	staff := "Bearer " + tm.tokens[jack.RoleStaff]
	u, _ := tm.src.users.Index.ByID(tm.ids[jack.RoleStaff])
	other, _, _ := token.Sign(tm.ring, tm.ring.Active(), subjectOf(*u), token.Session{}, time.Now())
	if w, _ := serve(t, h, request("POST", "/api/v1/auth/refresh", "Authorization", staff), ""); w.Code != http.StatusOK {
		t.Fatalf("the first refresh: %d", w.Code)
	}
	w, env := serve(t, h, request("POST", "/api/v1/auth/refresh", "Authorization", "Bearer "+other), "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(env.Error.Message, "still valid") || w.Header().Get("Retry-After") == "" {
		t.Fatalf("a session's first refresh past the user's share: %d %s %q; want 503 saying the token is still valid", w.Code, env.Error.Code, env.Error.Message)
	}
	if w, _ := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+other), ""); w.Code != http.StatusOK {
		t.Errorf("the token whose refresh was refused gets %d", w.Code)
	}
}

// signClaimsAt signs a token as a sidecar from before sessions did at at:
// no sid, auth_time or sgen.
func (tm *team) signClaimsAt(t *testing.T, at time.Time, jti string) string {
	t.Helper()
	return tm.signClaims(t, jwt.MapClaims{"sub": tm.ids[jack.RoleStaff], "jti": jti, "iat": at.Unix(), "exp": at.Add(time.Hour).Unix()})
}

func sessionIDOf(t *testing.T, tm *team, tok string, at time.Time) string {
	t.Helper()
	claims, err := tm.src.keys.Verifier.Verify(tok, at)
	if err != nil || claims.SessionID == "" {
		t.Fatalf("the token has no session: %v", err)
	}
	return claims.SessionID
}

// counterValue is the value of the counter name, without labels, in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
