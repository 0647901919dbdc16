package rotation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

var start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func defaults() Settings {
	return Settings{
		Algorithm:  jack.AlgorithmHS256,
		TokenTTL:   24 * time.Hour,
		Interval:   720 * time.Hour,
		Prepublish: 5 * time.Minute,
	}
}

func advance(t *testing.T, st State, s Settings, now time.Time) Result {
	t.Helper()
	res, err := Advance(st, s, Sidecars{}, now, keyring.Generate)
	if err != nil {
		t.Fatalf("Advance at %s: %v", now, err)
	}
	if _, err := res.Ring.Marshal(); err != nil {
		t.Fatalf("Advance at %s made a ring that cannot be written: %v", now, err)
	}
	return res
}

func states(r *keyring.Ring) string {
	var out []string
	for _, k := range r.Keys {
		out = append(out, string(k.State))
	}
	return strings.Join(out, ",")
}

func reasons(evs []Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Reason)
	}
	return strings.Join(out, ",")
}

func TestANewRingSignsAtOnce(t *testing.T) {
	res := advance(t, State{}, defaults(), start)
	if got := states(res.Ring); got != "Active" {
		t.Fatalf("a new ring holds %q, want one Active key", got)
	}
	if reasons(res.Events) != jack.EventRotated {
		t.Errorf("events = %s, want Rotated", reasons(res.Events))
	}
	if want := start.Add(720 * time.Hour); !res.NextRotation.Equal(want) {
		t.Errorf("next rotation = %s, want %s", res.NextRotation, want)
	}
	if want := start.Add(720*time.Hour - 5*time.Minute); !res.Requeue.Equal(want) {
		t.Errorf("requeue = %s, want the scheduled publication at %s", res.Requeue, want)
	}
}

func TestNothingChangesBetweenDeadlines(t *testing.T) {
	first := advance(t, State{}, defaults(), start)
	before, _ := first.Ring.Marshal()
	again := advance(t, first.State, defaults(), start.Add(time.Hour))
	after, _ := again.Ring.Marshal()
	if string(before) != string(after) || len(again.Events) != 0 {
		t.Errorf("an hour later with nothing due the ring changed (events %s)", reasons(again.Events))
	}
}

func TestLifecycle(t *testing.T) {
	s := defaults()
	cases := map[string]struct {
		// steps after the first key exists, each an offset from start and a change to settings.
		steps      []step
		wantStates string
		wantEvents string // of the last step
	}{
		"a manual rotation publishes a key that does not sign yet": {
			steps:      []step{{at: time.Hour, rotate: "1"}},
			wantStates: "Active,Published",
			wantEvents: "KeyPublished",
		},
		"the same rotate value never rotates twice": {
			steps:      []step{{at: time.Hour, rotate: "1"}, {at: 2 * time.Hour, rotate: "1"}, {at: 3 * time.Hour, rotate: "1"}},
			wantStates: "Retired,Active",
			wantEvents: "",
		},
		"a published key signs when its prepublish window is over and the old key retires": {
			steps:      []step{{at: time.Hour, rotate: "1"}, {at: time.Hour + 5*time.Minute, rotate: "1"}},
			wantStates: "Retired,Active",
			wantEvents: "KeyRetired,Rotated",
		},
		"a retired key stays until its last token expired, plus leeway": {
			steps: []step{{at: time.Hour, rotate: "1"}, {at: time.Hour + 5*time.Minute, rotate: "1"},
				{at: time.Hour + 5*time.Minute + 24*time.Hour + Leeway - time.Second, rotate: "1"}},
			wantStates: "Retired,Active",
			wantEvents: "",
		},
		"a retired key leaves once its last token expired": {
			steps: []step{{at: time.Hour, rotate: "1"}, {at: time.Hour + 5*time.Minute, rotate: "1"},
				{at: time.Hour + 5*time.Minute + 24*time.Hour + Leeway, rotate: "1"}},
			wantStates: "Active",
			wantEvents: "KeyRemoved",
		},
		"the schedule publishes prepublish ahead of the interval": {
			steps:      []step{{at: 720*time.Hour - 5*time.Minute}},
			wantStates: "Active,Published",
			wantEvents: "KeyPublished",
		},
		"changing the algorithm rotates to a key of the new one": {
			steps:      []step{{at: time.Hour, alg: jack.AlgorithmES256}, {at: time.Hour + 5*time.Minute, alg: jack.AlgorithmES256}},
			wantStates: "Retired,Active",
			wantEvents: "KeyRetired,Rotated",
		},
		"a waiting key of the old algorithm is dropped when the algorithm changes": {
			steps:      []step{{at: time.Hour, rotate: "1"}, {at: time.Hour + time.Minute, rotate: "1", alg: jack.AlgorithmEdDSA}},
			wantStates: "Active,Published",
			wantEvents: "KeyRemoved,KeyPublished",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := advance(t, State{}, s, start)
			for _, st := range tc.steps {
				settings := s
				settings.RotateRequest = st.rotate
				if st.alg != "" {
					settings.Algorithm = st.alg
				}
				res = advance(t, res.State, settings, start.Add(st.at))
			}
			if got := states(res.Ring); got != tc.wantStates {
				t.Errorf("ring holds %s, want %s", got, tc.wantStates)
			}
			if got := reasons(res.Events); got != tc.wantEvents {
				t.Errorf("last step's events = %q, want %q", got, tc.wantEvents)
			}
		})
	}
}

type step struct {
	at     time.Duration
	rotate string
	alg    jack.Algorithm
}

func TestRevokingTheActiveKeyPromotesAWaitingKeyAtOnce(t *testing.T) {
	s := defaults()
	res := advance(t, State{}, s, start)
	first := res.Ring.Active().ID
	s.RotateRequest = "1"
	res = advance(t, res.State, s, start.Add(time.Hour))
	waiting := res.Ring.Keys[1].ID
	s.RevokedKeyIDs = []string{first}
	res = advance(t, res.State, s, start.Add(time.Hour+time.Minute))
	if res.Ring.Find(first) != nil {
		t.Fatalf("revoked key %s is still in the ring", first)
	}
	if a := res.Ring.Active(); a == nil || a.ID != waiting {
		t.Fatalf("active key = %v, want the waiting key %s", a, waiting)
	}
	if got := reasons(res.Events); got != "KeyRevoked,Rotated" {
		t.Errorf("events = %s, want KeyRevoked,Rotated", got)
	}
}

func TestRevokingTheOnlyKeyMakesAFreshOneSignWithoutPrepublish(t *testing.T) {
	s := defaults()
	res := advance(t, State{}, s, start)
	first := res.Ring.Active().ID
	s.RevokedKeyIDs = []string{first}
	res = advance(t, res.State, s, start.Add(time.Hour))
	a := res.Ring.Active()
	if a == nil || a.ID == first || states(res.Ring) != "Active" {
		t.Fatalf("after revoking the only key the ring holds %s (active %v)", states(res.Ring), a)
	}
	if !a.ActivatedAt.Equal(start.Add(time.Hour)) {
		t.Errorf("the fresh key activates at %s, want at once", a.ActivatedAt)
	}
}

func TestLegacySecretIsImportedOnceAsARetiredKey(t *testing.T) {
	s := defaults()
	s.LegacySecret = []byte("the-old-jack-secret")
	res := advance(t, State{}, s, start)
	if got := states(res.Ring); got != "Retired,Active" && got != "Active,Retired" {
		t.Fatalf("ring holds %s, want a retired legacy key and an active key", got)
	}
	var legacy *keyring.Key
	for i := range res.Ring.Keys {
		if res.Ring.Keys[i].Legacy {
			legacy = &res.Ring.Keys[i]
		}
	}
	if legacy == nil || !legacy.ExpiresAt.Equal(start.Add(24*time.Hour+Leeway)) {
		t.Fatalf("legacy key = %+v, want one that expires after tokenTTL plus leeway", legacy)
	}
	if !res.LegacyImported {
		t.Fatal("the import is not remembered")
	}
	// After it expired it is removed, and never imported again.
	res = advance(t, res.State, s, start.Add(25*time.Hour))
	res = advance(t, res.State, s, start.Add(26*time.Hour))
	if got := states(res.Ring); got != "Active" {
		t.Errorf("a day later the ring holds %s, want only the active key", got)
	}
}

func TestShorteningTokenTTLDoesNotCutOffOldTokens(t *testing.T) {
	s := defaults()
	s.TokenTTL = 72 * time.Hour
	res := advance(t, State{}, s, start)
	s.TokenTTL = time.Hour
	s.RotateRequest = "1"
	res = advance(t, res.State, s, start.Add(time.Hour))
	res = advance(t, res.State, s, start.Add(time.Hour+5*time.Minute))
	for _, k := range res.Ring.Keys {
		if k.State == jack.KeyRetired {
			if want := start.Add(time.Hour + 5*time.Minute + 72*time.Hour + Leeway); !k.ExpiresAt.Equal(want) {
				t.Errorf("retired key expires at %s, want %s (the 72h tokens it signed must stay valid)", k.ExpiresAt, want)
			}
		}
	}
}

// token is one issued token in the month simulation.
type token struct {
	kid string
	exp time.Time
}

// TestAMonthOfRotationsNeverDropsALiveKey drives a ring through 40 days of
// scheduled rotations, manual rotations, an algorithm change and a
// revocation, issuing a token with the signing key every hour, and checks
// after every step that every live token's key is in the ring and verifies.
func TestAMonthOfRotationsNeverDropsALiveKey(t *testing.T) {
	s := defaults()
	s.Interval = 240 * time.Hour
	res := advance(t, State{}, s, start)
	var live []token
	rotations := 0
	for h := 1; h <= 40*24; h++ {
		now := start.Add(time.Duration(h) * time.Hour)
		switch h {
		case 100, 101, 300: // manual, the same value again, and another
			s.RotateRequest = map[int]string{100: "a", 101: "a", 300: "b"}[h]
		case 500:
			s.Algorithm = jack.AlgorithmES256
		case 700:
			// Revoke the signing key: its tokens die with it, on purpose.
			victim := res.Ring.Active().ID
			s.RevokedKeyIDs = append(s.RevokedKeyIDs, victim)
			live = slices.DeleteFunc(live, func(tk token) bool { return tk.kid == victim })
		}
		res = advance(t, res.State, s, now)
		for _, e := range res.Events {
			if e.Reason == jack.EventRotated {
				rotations++
			}
		}
		live = slices.DeleteFunc(live, func(tk token) bool { return !now.Before(tk.exp) })
		for _, tk := range live {
			k := res.Ring.Find(tk.kid)
			if k == nil || !k.Verifies(now) {
				t.Fatalf("hour %d: a live token (exp %s) was signed by key %s, which the ring no longer verifies; ring: %s", h, tk.exp, tk.kid, states(res.Ring))
			}
		}
		active := res.Ring.Active()
		if active == nil {
			t.Fatalf("hour %d: no key signs", h)
		}
		if active.Algorithm != s.Algorithm && res.Ring.Keys[len(res.Ring.Keys)-1].State != jack.KeyPublished {
			t.Fatalf("hour %d: signing with %s while %s is asked for and no rotation is under way", h, active.Algorithm, s.Algorithm)
		}
		if len(res.Ring.Keys) > 4 {
			t.Fatalf("hour %d: the ring grew to %d keys (%s)", h, len(res.Ring.Keys), states(res.Ring))
		}
		live = append(live, token{kid: active.ID, exp: now.Add(s.TokenTTL)})
	}
	// Manual at 100h and 300h (the repeated value at 101h does nothing), the
	// algorithm at 500h, the revocation at 700h, and the schedule at 940h
	// (every earlier scheduled one was pre-empted by a rotation that reset it).
	if rotations != 5 {
		t.Errorf("%d rotations in 40 days, want 5", rotations)
	}
}

// TestPromotionWaitsForEverySidecar walks a manual rotation (prepublish 5m,
// propagationTimeout 15m) through what the sidecars were seen to hold.
func TestPromotionWaitsForEverySidecar(t *testing.T) {
	s := defaults()
	s.PropagationTimeout = 15 * time.Minute
	base := advance(t, State{}, s, start)
	s.RotateRequest = "1"
	published := advance(t, base.State, s, start.Add(time.Hour))
	kid := published.Ring.Keys[1].ID
	old := published.Ring.Keys[0].ID
	floor := start.Add(time.Hour + 5*time.Minute)
	both := []string{old, kid}

	tests := map[string]struct {
		seen Sidecars
		at   time.Time
		// want: the states of the ring's keys after, the events, whether
		// the key is held and by whom, and when to look again.
		states  string
		events  string
		held    []string
		requeue time.Time
	}{
		"within prepublish, everyone has it: wake at the floor": {
			seen:   Sidecars{Pods: []Sidecar{{"a", both}, {"b", both}}},
			at:     floor.Add(-time.Minute),
			states: "Active,Published", requeue: floor,
		},
		"within prepublish, one lacks it: read them again in a second": {
			seen:   Sidecars{Pods: []Sidecar{{"a", both}, {"b", []string{old}}}},
			at:     floor.Add(-time.Minute),
			states: "Active,Published", requeue: floor.Add(-time.Minute + PropagationPoll),
		},
		"at the floor, everyone has it: it signs": {
			seen:   Sidecars{Pods: []Sidecar{{"a", both}, {"b", both}}},
			at:     floor,
			states: "Retired,Active", events: "KeyRetired,Rotated",
		},
		"at the floor, without sidecars: it signs": {
			at:     floor,
			states: "Retired,Active", events: "KeyRetired,Rotated",
		},
		"past the floor, one lacks it: held, and named": {
			seen:   Sidecars{Pods: []Sidecar{{"a", both}, {"b", []string{old}}}},
			at:     floor.Add(time.Minute),
			states: "Active,Published", held: []string{"b"}, requeue: floor.Add(time.Minute + PropagationPoll),
		},
		"past the floor, one unreadable: it counts as lacking": {
			seen:   Sidecars{Pods: []Sidecar{{"a", both}, {"b", nil}}},
			at:     floor.Add(time.Minute),
			states: "Active,Published", held: []string{"b"}, requeue: floor.Add(time.Minute + PropagationPoll),
		},
		"just before the timeout: still held": {
			seen:   Sidecars{Pods: []Sidecar{{"a", []string{old}}, {"b", []string{old}}}},
			at:     floor.Add(15*time.Minute - time.Second),
			states: "Active,Published", held: []string{"a", "b"}, requeue: floor.Add(15*time.Minute - time.Second + PropagationPoll),
		},
		"at the timeout: it signs, with a warning": {
			seen:   Sidecars{Pods: []Sidecar{{"a", both}, {"b", []string{old}}}},
			at:     floor.Add(15 * time.Minute),
			states: "Retired,Active", events: "PropagationTimedOut,KeyRetired,Rotated",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := Advance(published.State, s, tt.seen, tt.at, keyring.Generate)
			if err != nil {
				t.Fatal(err)
			}
			if got := states(res.Ring); got != tt.states {
				t.Errorf("states = %s, want %s", got, tt.states)
			}
			if got := reasons(res.Events); got != tt.events {
				t.Errorf("events = %q, want %q", got, tt.events)
			}
			switch {
			case tt.held == nil && res.Held != nil:
				t.Errorf("held for %v, want not held", res.Held.Lacking)
			case tt.held != nil && (res.Held == nil || !slices.Equal(res.Held.Lacking, tt.held) || res.Held.KeyID != kid ||
				!res.Held.Since.Equal(floor) || !res.Held.Until.Equal(floor.Add(15*time.Minute))):
				t.Errorf("held = %+v, want key %s held for %v from %s", res.Held, kid, tt.held, floor)
			}
			if !tt.requeue.IsZero() && !res.Requeue.Equal(tt.requeue) {
				t.Errorf("requeue at %s, want %s", res.Requeue, tt.requeue)
			}
			for _, e := range res.Events {
				if e.Reason == jack.EventPropagationTimedOut && (!e.Warning || !strings.Contains(e.Message, "b") || strings.Contains(e.Message, "a,")) {
					t.Errorf("the timeout's event is %+v, want a warning naming b only", e)
				}
			}
		})
	}
}

// TestRevocationDoesNotWaitForSidecars: revoking the active key promotes the
// waiting key at once, whatever the sidecars hold.
func TestRevocationDoesNotWaitForSidecars(t *testing.T) {
	s := defaults()
	s.PropagationTimeout = 15 * time.Minute
	base := advance(t, State{}, s, start)
	s.RotateRequest = "1"
	published := advance(t, base.State, s, start.Add(time.Hour))
	s.RevokedKeyIDs = []string{published.Ring.Keys[0].ID}
	lagging := Sidecars{Pods: []Sidecar{{"a", []string{published.Ring.Keys[0].ID}}}}
	res, err := Advance(published.State, s, lagging, start.Add(time.Hour+time.Second), keyring.Generate)
	if err != nil {
		t.Fatal(err)
	}
	if got := states(res.Ring); got != "Active" || res.Held != nil {
		t.Fatalf("after revoking the active key: states %s, held %+v; want the published key active at once", got, res.Held)
	}
}

func TestNames(t *testing.T) {
	seven := []string{"a", "b", "c", "d", "e", "f", "g"}
	tests := []struct {
		names []string
		n     int
		want  string
	}{
		{nil, 5, ""},
		{seven[:2], 5, "a, b"},
		{seven, 7, "a, b, c, d, e, f, g"},
		{seven, 3, "a, b, c and 4 more"},
	}
	for _, tt := range tests {
		if got := Names(tt.names, tt.n); got != tt.want {
			t.Errorf("Names(%v, %d) = %q, want %q", tt.names, tt.n, got, tt.want)
		}
	}
}
