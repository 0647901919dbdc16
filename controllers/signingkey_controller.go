package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/rotation"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// legacySecretIndex indexes SigningKeys by the Secret their legacySecretRef
// names, so a change to that Secret reconciles them.
const legacySecretIndex = "spec.legacySecretRef.name"

// SigningKeyReconciler keeps each SigningKey's key ring in its Secret and
// moves it through rotation. All of its state lives in the API server: the
// ring in the Secret (and a backup Secret), the bookkeeping in their
// annotations, so any reconcile can be interrupted and simply run again.
type SigningKeyReconciler struct {
	client.Client
	// APIReader reads from the API server, uncached: the legacySecretRef
	// Secret, whose data the cache does not hold, and a ring's object the
	// cache lacks (see readOwned). The manager's unless set; the Client
	// when neither is.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Clock is the time rotation follows; a fake clock in tests.
	Clock clock.PassiveClock
	// Generate makes new keys; keyring.Generate unless a test needs otherwise.
	Generate rotation.Generator
	// Sidecars reads what a sidecar holds; HTTPSidecarReader unless a test
	// needs otherwise.
	Sidecars SidecarReader

	// reads and laggards remember, between reconciles, what each sidecar
	// was last read to hold and which laggards an event last named; made
	// on the first reconcile (the controller runs one at a time).
	reads    *sidecarStates
	laggards *laggardEvents
}

// signingKeyScope is what one reconcile has fetched and decided.
type signingKeyScope struct {
	key     *authv1alpha1.SigningKey
	now     time.Time
	secrets ringSecrets
	result  *rotation.Result
	// ready is the Ready condition to report.
	ready readiness
	// propagation is what the sidecars hold; nil when they were not read.
	propagation *propagation
}

// +kubebuilder:rbac:groups=auth.jack.io,resources=signingkeys,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=signingkeys/status,verbs=get;patch
// The Secrets and ConfigMap a SigningKey owns carry blockOwnerDeletion (a
// controller reference), which clusters with the
// OwnerReferencesPermissionEnforcement admission plugin allow only to those
// who may update the owner's finalizers.
// +kubebuilder:rbac:groups=auth.jack.io,resources=signingkeys/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one SigningKey's ring forward to the current time.
func (r *SigningKeyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, reterr error) {
	key := &authv1alpha1.SigningKey{}
	if err := r.Get(ctx, req.NamespacedName, key); err != nil {
		if apierrors.IsNotFound(err) {
			forgetSigningKeyMetrics(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !key.DeletionTimestamp.IsZero() {
		// The Secrets and ConfigMap it owns go with it through garbage collection.
		return ctrl.Result{}, nil
	}

	if r.reads == nil {
		r.reads, r.laggards = &sidecarStates{}, &laggardEvents{}
	}
	s := &signingKeyScope{key: key, now: r.Clock.Now().UTC()}
	before := key.DeepCopy()
	defer func() {
		errs := []error{reterr, r.patchStatus(ctx, before, s)}
		if lostRace(errs...) {
			// Another write got there first, or the cache is behind our own
			// last write: nothing was overwritten, so read again and retry.
			logf.FromContext(ctx).V(1).Info("a concurrent write changed the key ring's objects; retrying", "error", kerrors.NewAggregate(errs))
			result, reterr = ctrl.Result{RequeueAfter: raceRetryDelay}, nil
			return
		}
		reterr = kerrors.NewAggregate(errs)
	}()

	secrets, err := r.loadRingSecrets(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	s.secrets = secrets
	if conflict := secrets.conflict(key); conflict != "" {
		s.ready = notReady(authv1alpha1.ReasonSecretConflict, conflict)
		r.Recorder.Eventf(key, nil, corev1.EventTypeWarning, authv1alpha1.ReasonSecretConflict, "Reconcile", "%s", conflict)
		return ctrl.Result{}, nil
	}

	settings, legacyProblem, err := r.settings(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	state, lost := secrets.state()
	if lost {
		r.Recorder.Eventf(key, nil, corev1.EventTypeWarning, authv1alpha1.ReasonKeyRingLost, "Reconcile",
			"neither Secret %s nor its backup holds a readable key ring; starting a new ring, so every earlier token is refused", key.SecretName())
	}
	// What the sidecars hold decides whether a published key may sign.
	var pods []sidecarPod
	var reads []sidecarRead
	if state.Ring != nil {
		if pods, err = sidecarsOf(ctx, r, key.Namespace, key.Name); err != nil {
			return ctrl.Result{}, err
		}
		reads = r.reads.observe(ctx, r.sidecarReader(), pods, state.Ring, s.now)
	}
	res, err := rotation.Advance(state, settings, seenSidecars(pods, reads), s.now, r.Generate)
	if err != nil {
		s.ready = notReady(authv1alpha1.ReasonKeyGenerationFailed, err.Error())
		return ctrl.Result{}, err
	}
	s.result = &res

	if err := r.writeRing(ctx, s); err != nil {
		s.ready = notReady(authv1alpha1.ReasonKeyGenerationFailed, fmt.Sprintf("storing the key ring: %v", err))
		return ctrl.Result{}, err
	}
	s.ready = activeReadiness(res.Ring)
	if legacyProblem != "" {
		s.ready = notReady(authv1alpha1.ReasonLegacySecretMissing, legacyProblem)
	}
	prop := propagationOf(key.Name, pods, reads, &res)
	s.propagation = &prop
	r.reportLaggards(key, &res, prop.total)
	logf.FromContext(ctx).V(1).Info("key ring reconciled", "activeKeyID", res.Ring.Active().ID, "keys", len(res.Ring.Keys), "nextRotation", res.NextRotation,
		"sidecars", prop.total, "propagated", prop.status)
	return ctrl.Result{RequeueAfter: max(r.nextLook(s, &res).Sub(s.now), time.Second)}, nil
}

// nextLook is when to reconcile again: when the ring changes by itself, and
// sooner while sidecars have yet to catch up with it — every second just
// after a rotation, when they are expected to, then every half minute.
func (r *SigningKeyReconciler) nextLook(s *signingKeyScope, res *rotation.Result) time.Time {
	next := res.Requeue
	if p := s.propagation; p != nil && p.total > 0 && p.status != metav1.ConditionTrue {
		poll := 30 * time.Second
		if a := res.Ring.Active(); a != nil && s.now.Sub(a.ActivatedAt) < s.key.Spec.Rotation.PropagationTimeout.Duration {
			poll = rotation.PropagationPoll
		}
		if t := s.now.Add(poll); t.Before(next) {
			next = t
		}
	}
	return next
}

// reportLaggards names, in a Warning event, the sidecars that hold a
// published key back, when the hold starts and when they change.
func (r *SigningKeyReconciler) reportLaggards(key *authv1alpha1.SigningKey, res *rotation.Result, total int) {
	var lacking []string
	if res.Held != nil {
		lacking = res.Held.Lacking
	}
	if !r.laggards.changed(key.Namespace+"/"+key.Name, lacking) {
		return
	}
	r.Recorder.Eventf(key, nil, corev1.EventTypeWarning, authv1alpha1.ReasonSidecarsLagging, "Rotate",
		"key %s waits for %d of %d sidecars that have not loaded it: %s; it signs once they do, or at %s (rotation.propagationTimeout)",
		res.Held.KeyID, len(lacking), total, rotation.Names(lacking, maxNamed), res.Held.Until.Format(time.RFC3339))
}

func (r *SigningKeyReconciler) sidecarReader() SidecarReader {
	if r.Sidecars == nil {
		return HTTPSidecarReader{}
	}
	return r.Sidecars
}

// raceRetryDelay is how soon a reconcile that lost an optimistic-concurrency
// race runs again: long enough for the cache to catch up.
const raceRetryDelay = 200 * time.Millisecond

// lostRace reports whether every error is a lost optimistic-concurrency race
// (and at least one happened).
func lostRace(errs ...error) bool {
	raced := false
	for _, err := range errs {
		switch {
		case err == nil:
		case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
			raced = true
		default:
			return false
		}
	}
	return raced
}

// settings reads the spec, and the legacy secret if one is still to be
// imported. A missing legacy secret is reported, not fatal: the ring works
// without it.
func (r *SigningKeyReconciler) settings(ctx context.Context, key *authv1alpha1.SigningKey) (rotation.Settings, string, error) {
	spec := key.Spec
	s := rotation.Settings{
		Algorithm:          spec.Algorithm,
		TokenTTL:           spec.TokenTTL.Duration,
		SessionLifetime:    spec.SessionLifetime.Duration,
		Interval:           spec.Rotation.Interval.Duration,
		Prepublish:         spec.Rotation.Prepublish.Duration,
		PropagationTimeout: spec.Rotation.PropagationTimeout.Duration,
		Issuer:             spec.Issuer,
		Audience:           spec.Audience,
		RevokedKeyIDs:      spec.RevokedKeyIDs,
		RotateRequest:      key.Annotations[jack.AnnotationRotate],
	}
	ref := spec.LegacySecretRef
	if ref == nil {
		return s, "", nil
	}
	var legacy corev1.Secret
	err := r.apiReader().Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: ref.Name}, &legacy)
	switch {
	case apierrors.IsNotFound(err):
		return s, fmt.Sprintf("legacySecretRef names Secret %s, which does not exist", ref.Name), nil
	case err != nil:
		return s, "", fmt.Errorf("reading legacy Secret %s: %w", ref.Name, err)
	case len(legacy.Data[ref.Key]) == 0:
		return s, fmt.Sprintf("legacySecretRef names key %s of Secret %s, which is missing or empty", ref.Key, ref.Name), nil
	}
	s.LegacySecret = legacy.Data[ref.Key]
	return s, "", nil
}

// SetupWithManager registers the reconciler: it watches SigningKeys, the
// Secrets and ConfigMaps they own, and Secrets named by legacySecretRef.
func (r *SigningKeyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Generate == nil {
		r.Generate = keyring.Generate
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &authv1alpha1.SigningKey{}, legacySecretIndex,
		func(o client.Object) []string {
			if ref := o.(*authv1alpha1.SigningKey).Spec.LegacySecretRef; ref != nil {
				return []string{ref.Name}
			}
			return nil
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&authv1alpha1.SigningKey{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.Secret{}).
		Owns(&corev1.ConfigMap{}).
		// Legacy Secrets are not the operator's: their metadata is enough to
		// learn of a change (NewCache).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.signingKeysImporting)).
		// A sidecar that starts, becomes ready or goes changes what a
		// published key waits for, and the status's count.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(signingKeyOfPod), builder.WithPredicates(sidecarChanged)).
		Named("signingkey").
		Complete(r)
}

func (r *SigningKeyReconciler) apiReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// signingKeyOfPod maps an injected pod to the SigningKey its sidecar serves.
func signingKeyOfPod(_ context.Context, o client.Object) []ctrl.Request {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return nil
	}
	c := sidecarContainer(p)
	if c == nil || sidecarSigningKey(c) == "" {
		return nil
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: sidecarSigningKey(c)}}}
}

// sidecarChanged passes the pod events that change whether, and where, a
// sidecar is read: not every status update of a running pod.
var sidecarChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, ok1 := e.ObjectOld.(*corev1.Pod)
		after, ok2 := e.ObjectNew.(*corev1.Pod)
		if !ok1 || !ok2 {
			return true
		}
		return before.Status.PodIP != after.Status.PodIP || sidecarReady(before) != sidecarReady(after) ||
			podFinished(before) != podFinished(after) || before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero()
	},
}

// signingKeysImporting maps a Secret to the SigningKeys whose legacySecretRef names it.
func (r *SigningKeyReconciler) signingKeysImporting(ctx context.Context, o client.Object) []ctrl.Request {
	var keys authv1alpha1.SigningKeyList
	if err := r.List(ctx, &keys, client.InNamespace(o.GetNamespace()), client.MatchingFields{legacySecretIndex: o.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "listing SigningKeys that import a legacy Secret", "secret", client.ObjectKeyFromObject(o))
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(keys.Items))
	for _, k := range keys.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&k)})
	}
	return reqs
}
