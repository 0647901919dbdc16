package certs

import (
	"bytes"
	"testing"
	"time"
)

// TestResumesFromTheStoredBundle plays a crash at each point of a CA
// rotation: the operator stops after storing a phase (or before storing it)
// and a new leader, planning from what the Secret holds, takes the step that
// is due — the same step a process that never stopped would take.
func TestResumesFromTheStoredBundle(t *testing.T) {
	r := rotate(t)
	o := DefaultOverlap
	cases := map[string]struct {
		bundle *Bundle
		at     time.Time
		action Action
		reason Reason
	}{
		"phase 1 lost before it was stored is planned again": {
			bundle: r.beforeCA, at: r.t1.Add(10 * time.Minute),
			action: ActionRotateCA, reason: ReasonCARenewing,
		},
		"phase 1 stored and the overlap running: nothing yet": {
			bundle: r.phase1, at: r.t1.Add(o / 2),
			action: ActionNone, reason: ReasonRotationInProgress,
		},
		"phase 1 stored and the overlap over: phase 2": {
			bundle: r.phase1, at: r.t2,
			action: ActionIssueServing, reason: ReasonNewCATrusted,
		},
		"phase 1 stored and the operator down for days: phase 2 when it returns": {
			bundle: r.phase1, at: r.t1.Add(3 * day),
			action: ActionIssueServing, reason: ReasonNewCATrusted,
		},
		"phase 2 lost before it was stored is planned again": {
			bundle: r.phase1, at: r.t2.Add(5 * time.Minute),
			action: ActionIssueServing, reason: ReasonNewCATrusted,
		},
		"phase 2 stored and the overlap running: nothing yet": {
			bundle: r.phase2, at: r.t2.Add(o / 2),
			action: ActionNone, reason: ReasonRotationInProgress,
		},
		"phase 2 stored and the overlap over: phase 3": {
			bundle: r.phase2, at: r.t3,
			action: ActionDropPreviousCA, reason: ReasonPreviousCAUnused,
		},
		"phase 3 lost before it was stored is planned again": {
			bundle: r.phase2, at: r.t3.Add(time.Hour),
			action: ActionDropPreviousCA, reason: ReasonPreviousCAUnused,
		},
		"phase 3 stored: nothing until the next renewal": {
			bundle: r.phase3, at: r.t3.Add(time.Minute),
			action: ActionNone, reason: ReasonUpToDate,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resumed := Plan(stored(t, tc.bundle), settings(), tc.at)
			if resumed.Action != tc.action || resumed.Reason != tc.reason {
				t.Fatalf("from the stored bundle Plan = %s (%s), want %s (%s): %s", resumed.Action, resumed.Reason, tc.action, tc.reason, resumed.Message)
			}
			if uninterrupted := Plan(tc.bundle, settings(), tc.at); uninterrupted != resumed {
				t.Errorf("the stored bundle plans %+v, the bundle in memory %+v", resumed, uninterrupted)
			}
		})
	}
}

// TestStoringIsStable: a bundle written and read back writes the same bytes,
// so the controller never rewrites a Secret that did not change.
func TestStoringIsStable(t *testing.T) {
	r := rotate(t)
	for name, b := range map[string]*Bundle{"made": r.made, "phase 1": r.phase1, "phase 2": r.phase2, "phase 3": r.phase3} {
		t.Run(name, func(t *testing.T) {
			first := b.SecretData()
			again := stored(t, b).SecretData()
			if len(first) != len(again) {
				t.Fatalf("stored %d keys, read back %d", len(first), len(again))
			}
			for k, v := range first {
				if !bytes.Equal(v, again[k]) {
					t.Errorf("%s changed on the way through the Secret", k)
				}
			}
			if b.String() != stored(t, b).String() {
				t.Errorf("read back as %s, stored as %s", stored(t, b), b)
			}
		})
	}
}
