package webhookcerts

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/controllers/certs"
)

func TestInspectCABundles(t *testing.T) {
	s := testSettings()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	old := made(t, nil, certs.ActionCreate, s, at)
	phase1 := made(t, old, certs.ActionRotateCA, s, at.Add(time.Hour))
	want := phase1.CABundle()
	newOnly := made(t, made(t, phase1, certs.ActionIssueServing, s, at.Add(2*time.Hour)), certs.ActionDropPreviousCA, s, at.Add(3*time.Hour)).CABundle()
	reordered := append(append([]byte{}, old.CABundle()...), newOnly...)

	cases := map[string]struct {
		have []string
		want caBundleState
	}{
		"every webhook holds ca.crt exactly: nothing to do": {
			have: []string{string(want), string(want)},
		},
		"a configuration without webhooks: nothing to do": {
			have: nil,
		},
		"one webhook was reset to the previous CA alone: it lacks the current CA": {
			have: []string{string(want), string(old.CABundle())},
			want: caBundleState{stale: true, lacksCurrent: true},
		},
		"an emptied caBundle lacks it": {
			have: []string{""},
			want: caBundleState{stale: true, lacksCurrent: true},
		},
		"a caBundle that is not PEM lacks it": {
			have: []string{"garbage"},
			want: caBundleState{stale: true, lacksCurrent: true},
		},
		"the current CA without the previous one is stale but trusts the new serving certificate": {
			have: []string{string(newOnly)},
			want: caBundleState{stale: true},
		},
		"both CAs in another order are stale, not lacking": {
			have: []string{string(reordered)},
			want: caBundleState{stale: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var have []*[]byte
			for _, h := range tc.have {
				b := []byte(h)
				have = append(have, &b)
			}
			if got := inspect(have, want, phase1.CA()); got != tc.want {
				t.Errorf("inspect = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPhase2WaitsForTheLastCABundleThatLackedTheCA(t *testing.T) {
	s := testSettings()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ca1 := made(t, nil, certs.ActionCreate, s, at).CA()
	ca2 := made(t, nil, certs.ActionCreate, s, at).CA()
	overlap := time.Hour
	type look struct {
		ca     int // 1 or 2
		lacked bool
		after  time.Duration
	}
	cases := map[string]struct {
		looks []look
		ca    int
		want  time.Duration // after at; -1 for no wait
	}{
		"a CA found in every caBundle from the start needs no wait": {
			looks: []look{{1, false, 0}, {1, false, time.Minute}}, ca: 1, want: -1,
		},
		"a CA that had to be put into a caBundle waits an overlap from then": {
			looks: []look{{1, false, 0}, {1, true, 10 * time.Minute}, {1, false, 11 * time.Minute}}, ca: 1, want: 70 * time.Minute,
		},
		"a second repair starts the wait again": {
			looks: []look{{1, true, 0}, {1, true, 30 * time.Minute}}, ca: 1, want: 90 * time.Minute,
		},
		"a new CA forgets the old one's repairs": {
			looks: []look{{1, true, 0}, {2, false, time.Minute}}, ca: 2, want: -1,
		},
		"a CA this process has not looked at needs no wait from it": {
			looks: []look{{1, true, 0}}, ca: 2, want: -1,
		},
	}
	cas := map[int]*x509.Certificate{1: ca1, 2: ca2}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var tr trustRecord
			for _, l := range tc.looks {
				tr.observe(cas[l.ca], l.lacked, at.Add(l.after))
			}
			got := tr.phase2At(cas[tc.ca], overlap)
			switch {
			case tc.want < 0 && !got.IsZero():
				t.Errorf("phase 2 waits until %s, want no wait", got)
			case tc.want >= 0 && !got.Equal(at.Add(tc.want)):
				t.Errorf("phase 2 waits until %s, want %s", got, at.Add(tc.want))
			}
		})
	}
}

func TestALateCABundleIsAnnouncedOncePerRepair(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ca := made(t, nil, certs.ActionCreate, testSettings(), at).CA()
	var tr trustRecord
	tr.observe(ca, true, at)
	if !tr.announce() || tr.announce() {
		t.Error("the first wait is announced once")
	}
	tr.observe(ca, false, at.Add(time.Second))
	if tr.announce() {
		t.Error("a look that found nothing lacking announced the same wait again")
	}
	tr.observe(ca, true, at.Add(2*time.Second))
	if !tr.announce() {
		t.Error("a new repair is not announced")
	}
}
