package webhookcerts

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// These tests rotate the CA in seconds: certificates valid for a minute or
// two, an Overlap of three seconds, and a Secret seeded with a bundle made
// in the past, so that its CA reaches its renewal point moments after the
// operator starts. Nothing fakes time: the API server verifies every
// certificate at the real time.

const testOverlap = 3 * time.Second

// shortLived settings give both certificates a life of validity, so the CA
// rotates two thirds into it, with an overlap of testOverlap.
func shortLived(validity time.Duration) certs.Settings {
	s := testSettings()
	s.CAValidity, s.ServingValidity, s.Overlap = validity, validity, testOverlap
	return s
}

// phase names where a bundle is in a rotation away from the CA seeded.
func phase(b *certs.Bundle, seeded *x509.Certificate) string {
	fromCurrent := b.Serving().CheckSignatureFrom(b.CA()) == nil
	switch {
	case b.CA().Equal(seeded) && b.PreviousCA() == nil:
		return "seeded"
	case b.PreviousCA() != nil && b.PreviousCA().Equal(seeded) && !fromCurrent:
		return "phase 1"
	case b.PreviousCA() != nil && b.PreviousCA().Equal(seeded) && fromCurrent:
		return "phase 2"
	case !b.CA().Equal(seeded) && b.PreviousCA() == nil && fromCurrent:
		return "phase 3"
	}
	return "unexpected: " + b.String()
}

// phaseWatch records the phases the Secret goes through, polling it.
type phaseWatch struct {
	mu     sync.Mutex
	phases []string
	last   *certs.Bundle
	stop   chan struct{}
	done   chan struct{}
}

func watchPhases(t *testing.T, key types.NamespacedName, seeded *x509.Certificate) *phaseWatch {
	t.Helper()
	w := &phaseWatch{stop: make(chan struct{}), done: make(chan struct{})}
	look := func() {
		if _, b, err := storedBundle(key); err == nil {
			p := phase(b, seeded)
			w.mu.Lock()
			if len(w.phases) == 0 || w.phases[len(w.phases)-1] != p {
				w.phases = append(w.phases, p)
			}
			w.last = b
			w.mu.Unlock()
		}
	}
	look()
	go func() {
		defer close(w.done)
		for {
			look()
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.finish)
	return w
}

func (w *phaseWatch) current() (string, *certs.Bundle) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.phases) == 0 {
		return "", nil
	}
	return w.phases[len(w.phases)-1], w.last
}

func (w *phaseWatch) waitFor(t *testing.T, want string, timeout time.Duration) *certs.Bundle {
	t.Helper()
	var b *certs.Bundle
	poll.Until(t, timeout, "the Secret reaches "+want, func() error {
		var p string
		if p, b = w.current(); p != want {
			return fmt.Errorf("it is at %q", p)
		}
		return nil
	})
	return b
}

func (w *phaseWatch) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *phaseWatch) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.phases)
}

// hammer keeps admitting objects through the API server, and keeps making
// TLS handshakes with the webhook server verified against the caBundle
// published at that moment, and records every failure.
type hammer struct {
	admissions, handshakes atomic.Int64
	mu                     sync.Mutex
	failures               []string
	stop                   chan struct{}
	wg                     sync.WaitGroup
}

func startHammer(t *testing.T, ns string, port int) *hammer {
	t.Helper()
	h := &hammer{stop: make(chan struct{})}
	ctx := context.Background()
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		for i := 0; !h.stopped(); i++ {
			if err := admitBoth(ctx, ns, i); err != nil {
				h.fail("admission", err)
				continue
			}
			h.admissions.Add(1)
		}
	}()
	go func() {
		defer h.wg.Done()
		for !h.stopped() {
			var v admissionregistrationv1.ValidatingWebhookConfiguration
			if err := k8s.Get(ctx, client.ObjectKey{Name: validatingName}, &v); err != nil {
				h.fail("reading the caBundle", err)
				continue
			}
			if _, err := served(port, v.Webhooks[0].ClientConfig.CABundle); err != nil {
				h.fail("TLS handshake with the published caBundle", err)
				continue
			}
			h.handshakes.Add(1)
		}
	}()
	t.Cleanup(h.halt)
	return h
}

func (h *hammer) stopped() bool {
	select {
	case <-h.stop:
		return true
	default:
		return false
	}
}

func (h *hammer) fail(what string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), what, err))
}

func (h *hammer) halt() {
	if !h.stopped() {
		close(h.stop)
	}
	h.wg.Wait()
}

// finish stops the hammer and fails the test on any failed admission or
// handshake, or too few of them to mean anything.
func (h *hammer) finish(t *testing.T) {
	t.Helper()
	h.halt()
	t.Logf("%d admissions (a JackUser and a pod each) and %d TLS handshakes", h.admissions.Load(), h.handshakes.Load())
	if len(h.failures) > 0 {
		t.Errorf("%d failures:\n%s", len(h.failures), fmt.Sprint(h.failures))
	}
	if h.admissions.Load() < 10 || h.handshakes.Load() < 10 {
		t.Error("too few admissions or handshakes to show anything")
	}
}

func TestTheCARotatesThroughItsThreePhasesWithoutAFailedAdmission(t *testing.T) {
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "webhook-certs"}
	s := shortLived(time.Minute)
	// Made 30s ago, its CA reaches its renewal point (40s) in 10s.
	seed := made(t, nil, certs.ActionCreate, s, time.Now().Add(-30*time.Second))
	seedSecret(t, key, seed)
	before := map[certs.Reason]float64{}
	for _, reason := range []certs.Reason{certs.ReasonCARenewing, certs.ReasonNewCATrusted, certs.ReasonPreviousCAUnused} {
		before[reason] = metricValue(t, MetricRotations, map[string]string{"reason": string(reason)})
	}

	r := startReplica(t, "only", replicaOptions{secret: key, settings: s})
	waitUntilAdmitting(t, ns)
	w := watchPhases(t, key, seed.CA())
	if p, _ := w.current(); p != "seeded" {
		t.Fatalf("the rotation began before the operator could admit anything (at %q): this machine is slower than the test's timeline", p)
	}
	h := startHammer(t, ns, r.port)
	phase1 := w.waitFor(t, "phase 1", 30*time.Second)
	phase2 := w.waitFor(t, "phase 2", 30*time.Second)
	final := w.waitFor(t, "phase 3", 30*time.Second)
	time.Sleep(time.Second) // admissions after the previous CA left caBundle
	h.finish(t)
	w.finish()

	if got, want := w.seen(), []string{"seeded", "phase 1", "phase 2", "phase 3"}; !slices.Equal(got, want) {
		t.Errorf("the Secret went through %q, want %q", got, want)
	}
	if !final.CA().Equal(phase1.CA()) || !final.Serving().Equal(phase2.Serving()) {
		t.Error("phase 3 changed more than ca.crt")
	}
	// Certificates are stamped in whole seconds.
	if wait := issuedAt(phase2.Serving()).Sub(issuedAt(phase1.CA())); wait < testOverlap {
		t.Errorf("the serving certificate moved to the new CA %s after it was made, want at least the overlap %s", wait, testOverlap)
	}
	if err := caBundlesAre(final.CABundle()); err != nil {
		t.Error(err)
	}
	for _, reason := range []certs.Reason{certs.ReasonCARenewing, certs.ReasonNewCATrusted, certs.ReasonPreviousCAUnused} {
		if err := hasEvent(key, corev1.EventTypeNormal, string(reason), ""); err != nil {
			t.Error(err)
		}
		if got := metricValue(t, MetricRotations, map[string]string{"reason": string(reason)}) - before[reason]; got != 1 {
			t.Errorf("rotations{reason=%s} grew by %v, want 1", reason, got)
		}
	}
	if err := hasEvent(key, corev1.EventTypeWarning, ReasonCABundleLate, ""); err == nil {
		t.Error("a rotation whose caBundles were patched on time was reported late")
	}
	if err := servesTheSecret(r.port, key); err != nil {
		t.Error(err)
	}
}

// issuedAt is when certs made c: it backdates NotBefore by certs.Backdate.
func issuedAt(c *x509.Certificate) time.Time { return c.NotBefore.Add(certs.Backdate) }

func TestARestartBetweenPhasesResumesTheRotation(t *testing.T) {
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "webhook-certs"}
	s := shortLived(time.Minute)
	s.Overlap = 8 * time.Second // room to stop the first replica inside it
	// Its CA reaches its renewal point in about 4s.
	seed := made(t, nil, certs.ActionCreate, s, time.Now().Add(-36*time.Second))
	seedSecret(t, key, seed)
	w := watchPhases(t, key, seed.CA())

	first := startReplica(t, "first", replicaOptions{secret: key, settings: s})
	phase1 := w.waitFor(t, "phase 1", 30*time.Second)
	first.stop()
	if p, _, err := currentPhase(key, seed.CA()); err != nil || p != "phase 1" {
		t.Fatalf("the first replica was stopped at %q (%v), not in phase 1: this machine is slower than the test's timeline", p, err)
	}

	// A new process, with nothing in memory: only the Secret says where the
	// rotation is.
	second := startReplica(t, "second", replicaOptions{secret: key, settings: s})
	waitUntilAdmitting(t, ns)
	h := startHammer(t, ns, second.port)
	phase2 := w.waitFor(t, "phase 2", 30*time.Second)
	final := w.waitFor(t, "phase 3", 30*time.Second)
	h.finish(t)
	w.finish()

	if got, want := w.seen(), []string{"seeded", "phase 1", "phase 2", "phase 3"}; !slices.Equal(got, want) {
		t.Errorf("the Secret went through %q, want %q", got, want)
	}
	if !final.CA().Equal(phase1.CA()) {
		t.Error("after the restart the CA of phase 1 was replaced, not kept")
	}
	if wait := issuedAt(phase2.Serving()).Sub(issuedAt(phase1.CA())); wait < s.Overlap {
		t.Errorf("after the restart the serving certificate moved %s after the new CA was made, before the overlap %s", wait, s.Overlap)
	}
	if err := servesTheSecret(second.port, key); err != nil {
		t.Error(err)
	}
}

func currentPhase(key types.NamespacedName, seeded *x509.Certificate) (string, *certs.Bundle, error) {
	_, b, err := storedBundle(key)
	if err != nil {
		return "", nil, err
	}
	return phase(b, seeded), b, nil
}

func TestPhase2WaitsAnOverlapAfterEveryCABundleHoldsTheNewCA(t *testing.T) {
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "webhook-certs"}
	s := shortLived(2 * time.Minute)
	// A leader stored phase 1 ten seconds ago and crashed before it patched
	// any caBundle: phase 2 is overdue by the certificates, but no caBundle
	// trusts the new CA.
	now := time.Now()
	seed := made(t, nil, certs.ActionCreate, s, now.Add(-90*time.Second))
	stored := made(t, seed, certs.ActionRotateCA, s, now.Add(-10*time.Second))
	if d := certs.Plan(stored, s, now); d.Reason != certs.ReasonNewCATrusted {
		t.Fatalf("the seeded bundle plans %s, want %s", d.Reason, certs.ReasonNewCATrusted)
	}
	seedSecret(t, key, stored)
	setCABundles(t, seed.CABundle())
	w := watchPhases(t, key, seed.CA())

	// And the caBundles cannot be patched for a while.
	var refuse atomic.Bool
	refuse.Store(true)
	var refused atomic.Int64
	r := startReplica(t, "only", replicaOptions{secret: key, settings: s, beforeWrite: func(o client.Object) error {
		switch o.(type) {
		case *admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration:
			if refuse.Load() {
				refused.Add(1)
				return errors.New("the test refuses to patch webhook configurations")
			}
		}
		return nil
	}})
	waitUntilAdmitting(t, ns)
	h := startHammer(t, ns, r.port)
	poll.Until(t, 30*time.Second, "the controller tries to patch the caBundles", func() error {
		if refused.Load() == 0 {
			return errors.New("no patch yet")
		}
		return nil
	})
	time.Sleep(2 * testOverlap)
	if p, _ := w.current(); p != "phase 1" {
		t.Fatalf("with no caBundle holding the new CA, the Secret moved on to %q", p)
	}

	allowedAt := time.Now()
	refuse.Store(false)
	poll.Until(t, 30*time.Second, "the caBundles hold both CAs", func() error { return caBundlesAre(stored.CABundle()) })
	phase2 := w.waitFor(t, "phase 2", 30*time.Second)
	w.waitFor(t, "phase 3", 30*time.Second)
	time.Sleep(time.Second)
	h.finish(t)

	if earliest := allowedAt.Truncate(time.Second).Add(testOverlap); issuedAt(phase2.Serving()).Before(earliest) {
		t.Errorf("the serving certificate moved to the new CA at %s, less than an overlap after the caBundles could hold it (%s)",
			issuedAt(phase2.Serving()).Format(time.RFC3339), allowedAt.Format(time.RFC3339Nano))
	}
	if err := hasEvent(key, corev1.EventTypeWarning, ReasonCABundleLate, stored.CA().Subject.CommonName); err != nil {
		t.Error(err)
	}
}
