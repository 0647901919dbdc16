package session

import (
	"errors"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// A session as a client lives it, with real tokens: the functions of this
// package wired to token.Sign and token.Verify as the sidecar wires them.

func journeyRing(t *testing.T, lifetime time.Duration) *keyring.Ring {
	t.Helper()
	k, err := keyring.Generate("HS256", "k1")
	if err != nil {
		t.Fatal(err)
	}
	k.State = jack.KeyActive
	return &keyring.Ring{TokenTTL: 24 * time.Hour, SessionLifetime: lifetime, Keys: []keyring.Key{k}}
}

var sam = token.Subject{ID: "staff-7", Email: "sam@example.com", Name: "Sam", Role: jack.RoleStaff}

// lastToken is the token sign made last, for the checks that need the
// token itself rather than its claims.
var lastToken string

// sign signs into s and reads the token back, as the next request would.
func sign(t *testing.T, r *keyring.Ring, s token.Session, at time.Time) token.Claims {
	t.Helper()
	tok, signed, err := token.Sign(r, r.Active(), sam, s, at)
	if err != nil {
		t.Fatalf("signing into %+v: %v", s, err)
	}
	c, err := token.NewVerifier(r, token.Options{}).Verify(tok, at)
	if err != nil || c != signed {
		t.Fatalf("Verify = %+v, %v; signed %+v", c, err, signed)
	}
	lastToken = tok
	return c
}

// refresh refreshes c at at and writes the Record, as the sidecar does.
func refresh(t *testing.T, r *keyring.Ring, rec *Record, c token.Claims, at time.Time) token.Claims {
	t.Helper()
	next, s, err := Refresh(*rec, c, at, token.SessionLifetime(r))
	if err != nil {
		t.Fatalf("refreshing generation %d: %v", c.SessionGeneration, err)
	}
	fresh := sign(t, r, s, at)
	*rec = next.Covering(fresh.ExpiresAt)
	return fresh
}

func TestARefreshedTokenWorksForItsGraceThenEndsTheSession(t *testing.T) {
	r := journeyRing(t, 0)
	var rec Record // no TokenRevocation yet
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

	first := sign(t, r, token.Session{}, t0) // the login
	if first.SessionGeneration != 0 || !first.AuthTime.Equal(t0) || first.SessionID == "" {
		t.Fatalf("the login's token is not a new session: %+v", first)
	}
	second := refresh(t, r, &rec, first, t0.Add(time.Hour))
	if second.SessionID != first.SessionID || !second.AuthTime.Equal(t0) || second.SessionGeneration != 1 {
		t.Fatalf("the refreshed token left the session: %+v", second)
	}
	if !rec.ExpiresAt.Equal(second.ExpiresAt) {
		t.Errorf("the record expires at %v, before the token it refuses (%v)", rec.ExpiresAt, second.ExpiresAt)
	}

	// A request sent with the first token just before the refresh lands.
	if v := Check(rec, first, t0.Add(time.Hour+9*time.Second)); v != Accept {
		t.Errorf("the superseded token within its grace: %v", v)
	}
	// A second tab refreshed the first token at the same time.
	sibling := refresh(t, r, &rec, first, t0.Add(time.Hour+2*time.Second))
	if sibling.SessionGeneration != 1 || rec.Generation != 1 || !rec.GraceUntil.Equal(t0.Add(time.Hour+jack.RefreshGrace)) {
		t.Errorf("a double refresh: token generation %d, record %+v", sibling.SessionGeneration, rec)
	}

	// Someone presents the first token after its grace: it was stolen.
	late := t0.Add(time.Hour + jack.RefreshGrace)
	if v := Check(rec, first, late); v != ReuseDetected {
		t.Fatalf("the superseded token after its grace: %v, want %v", v, ReuseDetected)
	}
	rec = EndForReuse(rec, first)
	for name, c := range map[string]token.Claims{"the newest token": second, "its sibling": sibling, "the stolen one": first} {
		if v := Check(rec, c, late); v != RefuseEnded {
			t.Errorf("%s after the reuse: %v, want %v", name, v, RefuseEnded)
		}
	}
	if _, _, err := Refresh(rec, second, late, token.SessionLifetime(r)); !errors.Is(err, ErrEnded) {
		t.Errorf("refreshing the newest token after the reuse: %v, want ErrEnded", err)
	}
}

func TestASessionEndsAtItsLifetimeHoweverOftenItIsRefreshed(t *testing.T) {
	const lifetime = 30 * time.Hour
	r := journeyRing(t, lifetime)
	var rec Record
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	end := t0.Add(lifetime)

	c := sign(t, r, token.Session{}, t0)
	c = refresh(t, r, &rec, c, t0.Add(20*time.Hour))
	if !c.ExpiresAt.Equal(end) {
		t.Errorf("a token refreshed 10 h before the session's end expires at %v, want the end, %v", c.ExpiresAt, end)
	}
	c = refresh(t, r, &rec, c, end.Add(-time.Second))
	if !c.ExpiresAt.Equal(end) || rec.Generation != 2 {
		t.Errorf("the last second's refresh: exp %v, record %+v", c.ExpiresAt, rec)
	}
	if _, _, err := Refresh(rec, c, end, token.SessionLifetime(r)); !errors.Is(err, token.ErrSessionOver) {
		t.Errorf("a refresh at the session's end: %v, want token.ErrSessionOver", err)
	}
	if _, err := token.NewVerifier(r, token.Options{Leeway: -1}).Verify(lastToken, end); !errors.Is(err, token.ErrExpired) {
		t.Errorf("the session's last token at its end: %v, want token.ErrExpired", err)
	}
}

func TestATokenFromBeforeSessionsIsRefreshedIntoOne(t *testing.T) {
	r := journeyRing(t, 0)
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	old := token.Claims{Subject: sam.ID, ID: "AAAAAAAAAAAAAAAAAAAAAA", IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	if v := Check(Record{}, old, t0); v != Accept {
		t.Fatalf("a token without a session: %v", v)
	}
	next, s, err := Refresh(Record{}, old, t0.Add(time.Hour), token.SessionLifetime(r))
	if err != nil || next != (Record{}) {
		t.Fatalf("Refresh = %+v, %v", next, err)
	}
	c := sign(t, r, s, t0.Add(time.Hour))
	if c.SessionID == "" || !c.AuthTime.Equal(t0) || c.SessionGeneration != 0 {
		t.Errorf("the refreshed token's session is %q, login %v, generation %d; want a new one from the old token's iat %v", c.SessionID, c.AuthTime, c.SessionGeneration, t0)
	}
	if !LoginTime(c).Equal(LoginTime(old)) {
		t.Errorf("the refresh moved the login from %v to %v", LoginTime(old), LoginTime(c))
	}
}
