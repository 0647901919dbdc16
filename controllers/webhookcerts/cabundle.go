package webhookcerts

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jack-io/jack-operator/controllers/certs"
)

// Kinds of webhook configuration, as events and metrics name them.
const (
	kindValidating = "ValidatingWebhookConfiguration"
	kindMutating   = "MutatingWebhookConfiguration"
)

// configRef is one webhook configuration to keep.
type configRef struct {
	kind, name string
}

func (c configRef) newObject() client.Object {
	if c.kind == kindValidating {
		return &admissionregistrationv1.ValidatingWebhookConfiguration{}
	}
	return &admissionregistrationv1.MutatingWebhookConfiguration{}
}

func (r *Reconciler) configs() []configRef {
	out := make([]configRef, 0, len(r.ValidatingWebhookConfigurations)+len(r.MutatingWebhookConfigurations))
	for _, n := range r.ValidatingWebhookConfigurations {
		out = append(out, configRef{kindValidating, n})
	}
	for _, n := range r.MutatingWebhookConfigurations {
		out = append(out, configRef{kindMutating, n})
	}
	return out
}

// caBundles points at the caBundle of every webhook of a configuration.
func caBundles(o client.Object) []*[]byte {
	var out []*[]byte
	switch c := o.(type) {
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range c.Webhooks {
			out = append(out, &c.Webhooks[i].ClientConfig.CABundle)
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for i := range c.Webhooks {
			out = append(out, &c.Webhooks[i].ClientConfig.CABundle)
		}
	}
	return out
}

// publish sets every webhook's caBundle of the named configurations to b's
// ca.crt, reading each from the API server first and patching only those
// that differ. A configuration that does not exist is reported and skipped:
// the watch brings it back here when it is created. lacked reports whether
// any caBundle lacked the current CA before.
func (r *Reconciler) publish(ctx context.Context, secret *corev1.Secret, b *certs.Bundle) (lacked bool, err error) {
	want := b.CABundle()
	for _, ref := range r.configs() {
		obj := ref.newObject()
		if err := r.Reader.Get(ctx, client.ObjectKey{Name: ref.name}, obj); err != nil {
			if apierrors.IsNotFound(err) {
				obj.SetName(ref.name)
				r.Recorder.Eventf(secret, obj, corev1.EventTypeWarning, ReasonWebhookConfigurationMissing, "PublishCABundle",
					"%s %s does not exist; its caBundle is set when it is created", ref.kind, ref.name)
				continue
			}
			return lacked, fmt.Errorf("reading %s %s: %w", ref.kind, ref.name, err)
		}
		bundles := caBundles(obj)
		state := inspect(bundles, want, b.CA())
		lacked = lacked || state.lacksCurrent
		if !state.stale {
			continue
		}
		// A strategic merge patch names each webhook by its name and sets
		// only its caBundle; the resourceVersion in it makes a concurrent
		// change of the configuration a Conflict, not a lost update.
		patch := client.StrategicMergeFrom(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
		for _, cb := range bundles {
			*cb = bytes.Clone(want)
		}
		if err := r.Client.Patch(ctx, obj, patch); err != nil {
			return lacked, fmt.Errorf("setting the caBundle of %s %s: %w", ref.kind, ref.name, err)
		}
		caBundleUpdates.WithLabelValues(ref.kind, ref.name).Inc()
		// The configuration is the related object: events about one Secret
		// with the same reason are otherwise merged into one series.
		r.Recorder.Eventf(secret, obj, corev1.EventTypeNormal, ReasonCABundleUpdated, "PublishCABundle",
			"caBundle of the %d webhook(s) of %s %s set to %s", len(bundles), ref.kind, ref.name, describeCABundle(b))
		logf.FromContext(ctx).Info("caBundle updated", "kind", ref.kind, "name", ref.name, "webhooks", len(bundles), "currentCA", b.CA().Subject.CommonName)
	}
	return lacked, nil
}

func describeCABundle(b *certs.Bundle) string {
	if p := b.PreviousCA(); p != nil {
		return "the CA " + b.CA().Subject.CommonName + " and the previous CA " + p.Subject.CommonName
	}
	return "the CA " + b.CA().Subject.CommonName
}

// caBundleState is how one configuration's caBundles stand against ca.crt.
type caBundleState struct {
	// stale: some webhook's caBundle is not exactly ca.crt.
	stale bool
	// lacksCurrent: some webhook's caBundle would not verify a serving
	// certificate from the current CA, because it does not hold it.
	lacksCurrent bool
}

// inspect compares the caBundles of one configuration with want, the
// Secret's ca.crt, whose first certificate is current.
func inspect(have []*[]byte, want []byte, current *x509.Certificate) caBundleState {
	var s caBundleState
	for _, cb := range have {
		if !bytes.Equal(*cb, want) {
			s.stale = true
			if !holds(*cb, current) {
				s.lacksCurrent = true
			}
		}
	}
	return s
}

// holds reports whether the PEM caBundle holds c. Anything in it that does
// not parse is passed over, as the API server's x509 pool does.
func holds(caBundle []byte, c *x509.Certificate) bool {
	rest := caBundle
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" && bytes.Equal(block.Bytes, c.Raw) {
			return true
		}
	}
}

// trustRecord remembers, for the current CA, when this process last found a
// caBundle without it (other than right after storing it), so that phase 2
// waits an Overlap from the moment it was put there.
type trustRecord struct {
	mu sync.Mutex
	// ca is the current CA's DER.
	ca []byte
	// since is when the last caBundle that lacked ca was given it; zero when
	// every caBundle held it whenever this process looked.
	since time.Time
	// announced: the wait for since has been reported in an event.
	announced bool
}

// observe records what publish found for ca at now. lacked is false right
// after storing a CA: its caBundles lack it then by design, and phase 1's
// own time is what certs counts the Overlap from.
func (t *trustRecord) observe(ca *x509.Certificate, lacked bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !bytes.Equal(t.ca, ca.Raw) {
		t.ca, t.since, t.announced = bytes.Clone(ca.Raw), time.Time{}, false
	}
	if lacked {
		t.since, t.announced = now, false
	}
}

// phase2At is the earliest time the serving certificate may move to ca, as
// far as caBundles are concerned: an Overlap after the last one had to be
// given ca, or any time if none had to be. certs.Plan has its own, later or
// not, from the certificates.
func (t *trustRecord) phase2At(ca *x509.Certificate, overlap time.Duration) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !bytes.Equal(t.ca, ca.Raw) || t.since.IsZero() {
		return time.Time{}
	}
	return t.since.Add(overlap)
}

// announce reports whether the current wait is yet to be reported, and
// marks it reported.
func (t *trustRecord) announce() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := !t.announced
	t.announced = true
	return first
}
