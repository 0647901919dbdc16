package cluster

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
)

func TestARevocationIsHeldOnlyOnceItsGenerationIsSeenAndActedOn(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	live := seenRevocation{generation: 2, tokenID: "t", expires: now.Add(time.Hour)}
	for name, tc := range map[string]struct {
		seen       seenRevocation
		generation int64
		acted      bool
		want       bool
	}{
		"the generation asked for, refused":      {live, 2, true, true},
		"a later generation than asked for":      {live, 1, true, true},
		"an older generation than asked for":     {live, 3, true, false},
		"seen but not refused (store full)":      {live, 2, false, false},
		"not refused, but the token expired":     {seenRevocation{generation: 1, tokenID: "t", expires: now.Add(-jack.TokenLeeway)}, 1, false, true},
		"not refused, expired within leeway":     {seenRevocation{generation: 1, tokenID: "t", expires: now.Add(-jack.TokenLeeway + time.Second)}, 1, false, false},
		"a session whose record is held":         {seenRevocation{generation: 3, sessionID: "s", expires: now.Add(time.Hour)}, 3, true, true},
		"a session whose record is not held":     {seenRevocation{generation: 3, sessionID: "s", expires: now.Add(time.Hour)}, 3, false, false},
		"a session's older generation, held":     {seenRevocation{generation: 2, sessionID: "s", expires: now.Add(time.Hour)}, 3, true, false},
		"a session not held, its tokens expired": {seenRevocation{generation: 1, sessionID: "s", expires: now.Add(-jack.TokenLeeway)}, 1, false, true},
	} {
		t.Run(name, func(t *testing.T) {
			if got := revocationHeld(tc.seen, tc.generation, tc.acted, now); got != tc.want {
				t.Errorf("held = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEndedSessionsAreHeldWhenTheViewIsAtOrPastTheTime(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)
	for name, tc := range map[string]struct {
		known, found bool
		validAfter   time.Time
		want         bool
	}{
		"the view at the time":             {true, true, at, true},
		"the view past the time":           {true, true, at.Add(time.Second), true},
		"the view before the time":         {true, true, at.Add(-time.Second), false},
		"sessions never ended in the view": {true, true, time.Time{}, false},
		"the JackUser is gone":             {true, false, time.Time{}, true},
		"the view not filled yet":          {false, false, time.Time{}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := sessionsEnded(tc.known, tc.found, tc.validAfter, at); got != tc.want {
				t.Errorf("held = %v, want %v", got, tc.want)
			}
		})
	}
}

func tokenRevocation(t *testing.T, doc string) TokenRevocation {
	t.Helper()
	var it TokenRevocation
	if err := json.Unmarshal([]byte(doc), &it); err != nil {
		t.Fatal(err)
	}
	return it
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestTheRevocationsViewFollowsTheWatchStatusIncluded(t *testing.T) {
	local, err := revocation.Open("", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := NewRevocations(RevocationsConfig{Local: local, Namespace: "shop", SigningKey: "jack", Log: logr.Discard()})
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	name := jack.RevocationName("tok")
	if r.Held(name, 1) {
		t.Fatal("an empty view holds a revocation")
	}

	changed := r.Changed()
	r.Replace([]TokenRevocation{tokenRevocation(t, `{"metadata":{"name":"`+name+`","generation":1},"spec":{"signingKey":"jack","tokenID":"tok","expiresAt":"`+exp+`"}}`)})
	if !closed(changed) {
		t.Error("a list did not tell the waiters")
	}
	if !r.Held(name, 1) || r.Held(name, 2) {
		t.Errorf("after the list: held at 1 %v, at 2 %v; want only at 1", r.Held(name, 1), r.Held(name, 2))
	}
	if !local.Revoked("tok", time.Now()) {
		t.Error("the listed revocation is not refused")
	}

	// The operator's confirmation arrives as a change of the status.
	changed = r.Changed()
	r.Upsert(tokenRevocation(t, `{"metadata":{"name":"`+name+`","generation":1},"spec":{"signingKey":"jack","tokenID":"tok","expiresAt":"`+exp+`"},"status":{"confirmedGeneration":1}}`))
	if !closed(changed) {
		t.Error("a change did not tell the waiters")
	}
	r.mu.Lock()
	confirmed := r.seen[name].confirmed
	r.mu.Unlock()
	if confirmed != 1 {
		t.Errorf("the view holds confirmedGeneration %d after the status change; want 1", confirmed)
	}

	changed = r.Changed()
	r.Delete(tokenRevocation(t, `{"metadata":{"name":"`+name+`"}}`))
	if !closed(changed) || r.Held(name, 1) {
		t.Error("a deletion did not tell the waiters, or the view still holds the revocation")
	}
	if closed(r.Changed()) {
		t.Error("a channel taken after the last change is closed already")
	}
}

func TestTheUsersViewAnswersByNameAndTellsItsChanges(t *testing.T) {
	v := NewUsers()
	at := time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)
	if v.SessionsEnded("sam", at) {
		t.Fatal("a view never listed holds an end of sessions")
	}
	changed := v.Changed()
	v.Replace([]JackUser{jackUser(t, "sam", `{"status":{"id":"staff-1","sessionsValidAfter":"2026-11-27T10:00:00Z"}}`)})
	if !closed(changed) {
		t.Error("a list did not tell the waiters")
	}
	if v.SessionsEnded("sam", at) {
		t.Error("sessions that ended before the time asked about hold it")
	}
	changed = v.Changed()
	v.Upsert(jackUser(t, "sam", `{"status":{"id":"staff-1","sessionsValidAfter":"2026-11-27T10:00:01Z"}}`))
	if !closed(changed) || !v.SessionsEnded("sam", at) {
		t.Error("the status's new sessionsValidAfter is not held, or did not tell the waiters")
	}
	if !v.SessionsEnded("gone", at) {
		t.Error("a JackUser the listed view does not have is not held: its tokens are refused")
	}
	changed = v.Changed()
	v.Delete(jackUser(t, "sam", `{}`))
	if !closed(changed) || !v.SessionsEnded("sam", at.Add(time.Hour)) {
		t.Error("a deleted JackUser is not held, or its deletion did not tell the waiters")
	}
}
