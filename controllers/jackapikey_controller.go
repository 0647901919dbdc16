package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/apikeys"
	"github.com/jack-io/jack-operator/internal/apikey"
)

// DefaultLastUsedInterval is how often, at most, the sidecars of a namespace
// are asked when its API keys were last used: status.lastUsed is to the
// hour, so asking more often would only cost.
const DefaultLastUsedInterval = time.Hour

// JackAPIKeyReconciler keeps each JackAPIKey's value in its Secret
// (<name>-apikey, data key "apikey") and its status — the digests and last
// four characters of its values, never a value — in step: it generates the
// first value, rotates on auth.jack.io/rotate with an overlap, drops the
// previous value when the overlap ends, recreates a deleted Secret, reports
// disabled and expired keys, and gathers from the sidecars when each key
// was last used.
//
// A value is written to the Secret before the status names its digest, so
// a reconcile interrupted between the two finishes on the next one
// (apikeys.Decide); nothing else is remembered between reconciles but what
// sidecars last said of their use.
type JackAPIKeyReconciler struct {
	client.Client
	// APIReader reads from the API server, uncached, before a decision to
	// write a new value, so that a lagging cache never rotates twice. The
	// manager's unless set; the Client when neither is.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Generate makes new values; apikey.Generate unless a test needs otherwise.
	Generate func() (string, error)
	// Sidecars reads what a sidecar reports (its last uses of keys);
	// HTTPSidecarReader unless a test needs otherwise.
	Sidecars SidecarReader
	// LastUsedInterval is how often, at most, a namespace's sidecars are
	// asked; DefaultLastUsedInterval unless set.
	LastUsedInterval time.Duration

	lastUsed lastUsedReads
}

// +kubebuilder:rbac:groups=auth.jack.io,resources=jackapikeys,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=jackapikeys/status,verbs=get;patch
// The key's Secret carries a controller reference (blockOwnerDeletion),
// which clusters with the OwnerReferencesPermissionEnforcement admission
// plugin allow only to those who may update the owner's finalizers.
// +kubebuilder:rbac:groups=auth.jack.io,resources=jackapikeys/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one JackAPIKey's Secret and status up to the current time.
func (r *JackAPIKeyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := &authv1alpha1.JackAPIKey{}
	if err := r.Get(ctx, req.NamespacedName, key); err != nil {
		if apierrors.IsNotFound(err) {
			forgetAPIKeyMetrics(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !key.DeletionTimestamp.IsZero() {
		// The Secret goes with it through garbage collection.
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now().UTC()

	secret, state, err := r.readSecret(ctx, r.Client, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := apikeys.Decide(decisionInput(key, state, now, ""))
	if d.Write != apikeys.WriteNone || !holdsCurrent(key, state) {
		// A new value is about to be made, or the Secret's is to be adopted:
		// decide again from what the API server holds, not the cache, which
		// may not have seen the operator's own last write yet — so a
		// rotation already done is neither done twice nor undone.
		if err := r.apiReader().Get(ctx, req.NamespacedName, key); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		if secret, state, err = r.readSecret(ctx, r.apiReader(), key); err != nil {
			return ctrl.Result{}, err
		}
		d = apikeys.Decide(decisionInput(key, state, now, ""))
	}
	if d.Write != apikeys.WriteNone {
		written, err := r.writeValue(ctx, key, secret, d.Write)
		if lostRace(err) {
			return ctrl.Result{RequeueAfter: raceRetryDelay}, nil
		}
		if err != nil {
			// Only what the API server called the failure: an error could
			// echo what was sent.
			d.Ready.Reason = authv1alpha1.ReasonSecretWriteFailed
			d.Ready.Message = fmt.Sprintf("writing Secret %s failed (%s); the operator retries", state.Name, apierrors.ReasonForError(err))
			return ctrl.Result{}, kerrors.NewAggregate([]error{err, r.report(ctx, key, &d, now)})
		}
		d = apikeys.Decide(decisionInput(key, written, now, d.Cause))
	}
	if err := r.report(ctx, key, &d, now); err != nil {
		if lostRace(err) {
			return ctrl.Result{RequeueAfter: raceRetryDelay}, nil
		}
		return ctrl.Result{}, err
	}
	logf.FromContext(ctx).V(1).Info("API key reconciled", "id", key.Status.ID, "values", len(d.Values), "ready", d.Ready.Reason)
	return ctrl.Result{RequeueAfter: r.nextLook(d.Requeue, now)}, nil
}

// nextLook is when to reconcile again: when the key changes by itself, and
// at least every LastUsedInterval to gather its last use.
func (r *JackAPIKeyReconciler) nextLook(change, now time.Time) time.Duration {
	wait := r.lastUsedInterval()
	if !change.IsZero() {
		wait = min(wait, change.Sub(now))
	}
	return max(wait, time.Second)
}

func decisionInput(key *authv1alpha1.JackAPIKey, secret apikeys.Secret, now time.Time, wrote string) apikeys.Input {
	return apikeys.Input{Spec: key.Spec, RotateRequest: key.Annotations[jack.AnnotationRotate], Status: key.Status,
		Secret: secret, Now: now, Wrote: wrote}
}

// APIKeyID is a key's status.id: "ak-" and 12 hex digits of a SHA-256 of
// its UID, so it is stable for the key's life, differs between two keys of
// one name created one after the other, and says nothing of the value.
func APIKeyID(uid types.UID) string {
	sum := sha256.Sum256([]byte(uid))
	return "ak-" + hex.EncodeToString(sum[:6])
}

// APIKeySecretName is the Secret holding a key's current value.
func APIKeySecretName(key string) string { return key + jack.APIKeySecretSuffix }

// SetupWithManager registers the reconciler: JackAPIKeys (their spec and
// the rotate annotation) and the Secrets they own.
func (r *JackAPIKeyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Generate == nil {
		r.Generate = apikey.Generate
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.LastUsedInterval == 0 {
		r.LastUsedInterval = DefaultLastUsedInterval
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&authv1alpha1.JackAPIKey{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// The operator's own Secrets, whole, from its cache (NewCache).
		Owns(&corev1.Secret{}).
		Named("jackapikey").
		Complete(r)
}

func (r *JackAPIKeyReconciler) apiReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

func (r *JackAPIKeyReconciler) sidecarReader() SidecarReader {
	if r.Sidecars == nil {
		return HTTPSidecarReader{}
	}
	return r.Sidecars
}
