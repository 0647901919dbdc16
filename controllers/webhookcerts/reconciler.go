package webhookcerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jack-io/jack-operator/controllers/certs"
)

// Reasons of the events this package adds to certs' (each applied
// certs.Decision is an event whose reason is its certs.Reason).
const (
	// ReasonSecretInvalid: the Secret's data does not make a bundle; the
	// message names the data key and what is wrong, never its contents.
	ReasonSecretInvalid = "SecretInvalid"
	// ReasonCABundleUpdated: a webhook configuration's caBundle was set to
	// the Secret's ca.crt.
	ReasonCABundleUpdated = "CABundleUpdated"
	// ReasonWebhookConfigurationMissing: a webhook configuration the operator
	// was told to keep does not exist.
	ReasonWebhookConfigurationMissing = "WebhookConfigurationMissing"
	// ReasonCABundleLate: phase 2 of a CA rotation waits, because a caBundle
	// lacked the new CA until recently.
	ReasonCABundleLate = "CABundleLate"
)

// maxStepsPerReconcile bounds how many decisions one reconcile applies. A
// healthy bundle needs at most two in a row (a repair, then a renewal that
// was also due); certs' simulation never needs more than three.
const maxStepsPerReconcile = 3

// raceRetryDelay is how soon a reconcile that lost an optimistic-concurrency
// race runs again.
const raceRetryDelay = 200 * time.Millisecond

// Reconciler keeps the webhook certificate Secret and the caBundles of the
// webhook configurations. Only the leader runs it; see the package
// documentation.
type Reconciler struct {
	// Client writes the Secret and patches the webhook configurations;
	// the manager's client unless set.
	Client client.Client
	// Reader reads them straight from the API server, so a decision is never
	// made on a cache that lags behind the last write; the manager's
	// APIReader unless set.
	Reader client.Reader
	// Recorder records events on the Secret; the manager's unless set.
	Recorder events.EventRecorder
	// Clock is the time certificates are planned and made at; the real
	// clock unless set.
	Clock clock.PassiveClock

	// Secret names the Secret that holds the certificates.
	Secret types.NamespacedName
	// Settings are the certificates wanted. DNSNames are required.
	Settings certs.Settings
	// ValidatingWebhookConfigurations and MutatingWebhookConfigurations
	// name the configurations whose caBundle the Secret's ca.crt goes into,
	// for every webhook in them.
	ValidatingWebhookConfigurations []string
	MutatingWebhookConfigurations   []string

	trust trustRecord
}

// The Secret and the webhook configurations are known by name: the names
// are the kustomize install's, which hack/chartgen renames to the chart
// release's. The Secret is in the operator's namespace ("system"); its cache
// lists and watches it, and each configuration, by name (Setup), which RBAC
// authorizes as a request for that name. Only creating the Secret, which
// RBAC cannot limit by name, is granted for any in that namespace.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create,namespace=system
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;update,resourceNames=jack-operator-webhook-certs,namespace=system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch,namespace=system
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch;patch,resourceNames=jack-operator-validating
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,verbs=get;list;watch;patch,resourceNames=jack-operator-pod-injection

// Reconcile brings the Secret and the caBundles to what certs.Plan wants
// now. Every request is for the one Secret.
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	now := r.Clock.Now()
	secret, bundle, err := r.readSecret(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	if bundle != nil {
		// Before deciding anything: a reset caBundle is repaired whether or
		// not the certificates change, and phase 2 needs to know it happened.
		lacked, err := r.publish(ctx, secret, bundle)
		r.trust.observe(bundle.CA(), lacked, now)
		if err != nil {
			return r.retry(ctx, err)
		}
	}
	for range maxStepsPerReconcile {
		d := certs.Plan(bundle, r.Settings, now)
		if d.Action == certs.ActionNone {
			return r.idle(ctx, secret, d, now), nil
		}
		if d.Reason == certs.ReasonNewCATrusted {
			if at := r.trust.phase2At(bundle.CA(), r.overlap()); now.Before(at) {
				if r.trust.announce() {
					r.Recorder.Eventf(secret, nil, corev1.EventTypeWarning, ReasonCABundleLate, "Rotate",
						"the serving certificate moves to the new CA %s at %s, an overlap after a webhook configuration's caBundle last had to be given it",
						bundle.CA().Subject.CommonName, at.UTC().Format(time.RFC3339))
				}
				return ctrl.Result{RequeueAfter: at.Sub(now)}, nil
			}
		}
		next, err := certs.Apply(bundle, d, r.Settings, now)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("webhook certificates in Secret %s (%s): %w", r.Secret, d.Reason, err)
		}
		if secret, err = r.writeSecret(ctx, secret, next); err != nil {
			return r.retry(ctx, err)
		}
		bundle = next
		rotations.WithLabelValues(string(d.Reason)).Inc()
		r.Recorder.Eventf(secret, nil, eventType(d.Reason), string(d.Reason), string(d.Action), "%s", d.Message)
		logf.FromContext(ctx).Info("webhook certificates changed", "reason", d.Reason, "certificates", bundle.String())
		r.trust.observe(bundle.CA(), false, now)
		if _, err := r.publish(ctx, secret, bundle); err != nil {
			return r.retry(ctx, err)
		}
	}
	// More steps than a bundle ever needs: plan again from what is stored.
	return ctrl.Result{RequeueAfter: raceRetryDelay}, nil
}

// idle is the result when nothing is due until d.RequeueAt.
func (r *Reconciler) idle(ctx context.Context, secret *corev1.Secret, d certs.Decision, now time.Time) ctrl.Result {
	if d.RequeueAt.IsZero() {
		// Invalid settings: Setup refuses them, so this is a bug
		// more than a state; say so where an operator looks.
		if secret != nil {
			r.Recorder.Eventf(secret, nil, corev1.EventTypeWarning, string(d.Reason), "Plan", "%s", d.Message)
		}
		logf.FromContext(ctx).Error(errors.New(d.Message), "webhook certificates cannot be made")
		return ctrl.Result{}
	}
	logf.FromContext(ctx).V(1).Info("webhook certificates up to date", "reason", d.Reason, "next", d.RequeueAt)
	return ctrl.Result{RequeueAfter: max(d.RequeueAt.Sub(now), time.Millisecond)}
}

// retry turns a lost optimistic-concurrency race into a quick retry, since
// nothing was overwritten; any other error goes to the controller's backoff.
func (r *Reconciler) retry(ctx context.Context, err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		logf.FromContext(ctx).V(1).Info("a concurrent write changed the webhook certificates' objects; retrying", "error", err)
		return ctrl.Result{RequeueAfter: raceRetryDelay}, nil
	}
	return ctrl.Result{}, err
}

// overlap is the Overlap the settings complete to.
func (r *Reconciler) overlap() time.Duration {
	if r.Settings.Overlap == 0 {
		return certs.DefaultOverlap
	}
	return r.Settings.Overlap
}

// eventType is Warning for a decision that repairs something that could not
// work, and Normal for the ones that come with time or a settings change.
func eventType(reason certs.Reason) string {
	switch reason {
	case certs.ReasonCAExpired, certs.ReasonServingCertMissing, certs.ReasonIncorrectIssuer,
		certs.ReasonServingCertExpired, certs.ReasonInvalidSettings:
		return corev1.EventTypeWarning
	}
	return corev1.EventTypeNormal
}
