package certs

import (
	"crypto/x509"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// published is one state of the Secret, from the moment it was stored: what
// the leader patches into caBundle, and what the webhook server serves.
type published struct {
	at       time.Time
	caBundle []byte
	serving  *x509.Certificate
}

type applied struct {
	at     time.Time
	reason Reason
}

// TestRotationNeverBreaksAdmission runs a bundle's life as the controller
// would — plan, apply, store, read back, requeue at RequeueAt or after a
// step — and checks at every step, before and after applying, that
// admission works for every combination of a caBundle published within the
// last Overlap and a serving certificate stored within it: a webhook
// configuration patched late, or a webhook server loading its files late,
// never fails a call.
func TestRotationNeverBreaksAdmission(t *testing.T) {
	cases := map[string]struct {
		settings     Settings
		length, step time.Duration
		// caRotations is how many CA rotations the life must see.
		caRotations int
	}{
		"three years of the defaults, day by day": {
			settings: settings(), length: 3 * 365 * day, step: day,
			caRotations: 4, // at 243⅓ days, then every 243⅓ days
		},
		"a year of short lives, where the CA's expiry cuts serving certificates short": {
			settings: Settings{DNSNames: []string{svc, svcCL}, CAValidity: 30 * day, ServingValidity: 20 * day, Overlap: time.Hour},
			length:   365 * day, step: 6 * time.Hour,
			caRotations: 18, // every 20 days
		},
		"a day of hour-long lives for a server dialled at an IP address": {
			settings: Settings{DNSNames: []string{svc}, IPAddresses: []netip.Addr{loopback}, CAValidity: time.Hour, ServingValidity: time.Hour, Overlap: 10 * time.Minute},
			length:   day, step: time.Minute,
			caRotations: 35, // every 40 minutes, the 36th at the end of the day
		},
		"two months of the longest overlap the settings allow": {
			settings: Settings{DNSNames: []string{svc}, CAValidity: 6 * day, ServingValidity: 6 * day, Overlap: day},
			length:   60 * day, step: time.Hour,
			caRotations: 14, // every 4 days
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := tc.settings.complete()
			if err != nil {
				t.Fatal(err)
			}
			var (
				b       *Bundle
				history []published
				done    []applied
			)
			end := start.Add(tc.length)
			for now := start; now.Before(end); {
				if b != nil {
					// The state stored at the previous step, at the end of its time.
					checkAdmission(t, now, history, s)
				}
				d := Plan(b, s, now)
				for i := 0; d.Action != ActionNone; i++ {
					if i == 3 {
						t.Fatalf("at %s the plan does not settle: still %s (%s)", stamp(now), d.Action, d.Reason)
					}
					next, err := Apply(b, d, s, now)
					if err != nil {
						t.Fatalf("at %s applying %s (%s): %v", stamp(now), d.Action, d.Reason, err)
					}
					b = stored(t, next)
					history = append(history, published{at: now, caBundle: b.CABundle(), serving: b.Serving()})
					done = append(done, applied{at: now, reason: d.Reason})
					d = Plan(b, s, now)
				}
				checkAdmission(t, now, history, s)
				if !d.RequeueAt.After(now) {
					t.Fatalf("at %s the plan asks to requeue at %s, not later", stamp(now), stamp(d.RequeueAt))
				}
				next := now.Add(tc.step)
				if d.RequeueAt.Before(next) {
					next = d.RequeueAt
				}
				now = next
			}
			checkPhases(t, done, s.Overlap, tc.caRotations)
		})
	}
}

// checkAdmission verifies, at now, each caBundle in use during the last
// Overlap against the current serving certificate, and the current caBundle
// against each serving certificate in use during it.
func checkAdmission(t *testing.T, now time.Time, history []published, s Settings) {
	t.Helper()
	from := 0
	for i, h := range history {
		if !h.at.After(now.Add(-s.Overlap)) {
			from = i // the state in use one Overlap ago
		}
	}
	current := history[len(history)-1]
	for _, h := range history[from:] {
		names := append(slices.Clone(s.DNSNames), addrStrings(s.IPAddresses)...)
		if err := verify(h.caBundle, current.serving, names, now); err != nil {
			t.Fatalf("at %s a caBundle published at %s does not verify the serving certificate stored at %s: %v",
				stamp(now), stamp(h.at), stamp(current.at), err)
		}
		if err := verify(current.caBundle, h.serving, names, now); err != nil {
			t.Fatalf("at %s the caBundle published at %s does not verify a serving certificate stored at %s: %v",
				stamp(now), stamp(current.at), stamp(h.at), err)
		}
	}
}

// checkPhases checks that a healthy life needs no repair, only renewals,
// and that every CA rotation runs its three phases an Overlap apart.
func checkPhases(t *testing.T, done []applied, overlap time.Duration, wantRotations int) {
	t.Helper()
	rotations := 0
	for i, a := range done {
		switch a.reason {
		case ReasonDoesNotExist:
			if i != 0 {
				t.Errorf("at %s the bundle was made again", stamp(a.at))
			}
		case ReasonRenewing:
		case ReasonCARenewing:
			rotations++
			if i+2 >= len(done) {
				break // the life ended mid-rotation
			}
			p2, p3 := done[i+1], done[i+2]
			if p2.reason != ReasonNewCATrusted || !p2.at.Equal(a.at.Add(overlap)) {
				t.Errorf("phase 1 at %s was followed by %s at %s, want %s at %s", stamp(a.at), p2.reason, stamp(p2.at), ReasonNewCATrusted, stamp(a.at.Add(overlap)))
			}
			if p3.reason != ReasonPreviousCAUnused || !p3.at.Equal(a.at.Add(2*overlap)) {
				t.Errorf("phase 2 at %s was followed by %s at %s, want %s at %s", stamp(p2.at), p3.reason, stamp(p3.at), ReasonPreviousCAUnused, stamp(a.at.Add(2*overlap)))
			}
		case ReasonNewCATrusted, ReasonPreviousCAUnused:
			if i == 0 || (done[i-1].reason != ReasonCARenewing && done[i-1].reason != ReasonNewCATrusted) {
				t.Errorf("at %s %s came out of order", stamp(a.at), a.reason)
			}
		default:
			t.Errorf("at %s a healthy life needed a repair: %s", stamp(a.at), a.reason)
		}
	}
	if rotations != wantRotations {
		t.Errorf("the CA rotated %d times, want %d", rotations, wantRotations)
	}
}
