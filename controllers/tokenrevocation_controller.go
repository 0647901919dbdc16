package controllers

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// TokenRevocationReconciler confirms each TokenRevocation with every ready
// sidecar of its SigningKey, so that the sidecar that recorded the logout
// can answer it knowing no replica accepts the token any more, and deletes
// it once the token it names has expired: from then on every verifier
// refuses the token for its expiry, so the record would only cost memory in
// every sidecar watching it.
type TokenRevocationReconciler struct {
	client.Client
	Clock clock.PassiveClock
	// Leeway is how long past expiresAt a revocation is kept: the clock
	// skew the sidecars tolerate on exp, so that a sidecar whose clock is
	// behind never accepts the token after its revocation is gone. Zero
	// means the verifier's default.
	Leeway time.Duration
	// Sidecars asks sidecars to confirm; HTTPSidecarReader unless a test
	// needs otherwise.
	Sidecars SidecarReader
}

// confirmWait is how long one confirmation round lets a sidecar take to
// receive the revocation through its watch; a sidecar that has not by then
// is asked again a second later, until the revocation expires.
const confirmWait = 2 * time.Second

// confirmRetry is how soon a revocation not yet confirmed everywhere is
// tried again.
const confirmRetry = time.Second

var (
	revocationConfirmations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jack_operator_token_revocation_confirmations_total",
		Help: "Rounds of asking a TokenRevocation's sidecars to confirm it, by result: confirmed (by every ready sidecar) or pending.",
	}, []string{"result"})
	revocationConfirmSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "jack_operator_token_revocation_confirm_seconds",
		Help:    "How long one confirmation round of a TokenRevocation took, to every ready sidecar.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
)

var expiredRevocations = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "jack_operator_token_revocations_expired_total",
	Help: "TokenRevocations deleted because the token they name has expired.",
})

func init() {
	metrics.Registry.MustRegister(expiredRevocations, revocationConfirmations, revocationConfirmSeconds)
}

// +kubebuilder:rbac:groups=auth.jack.io,resources=tokenrevocations,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=auth.jack.io,resources=tokenrevocations/status,verbs=get;patch

// Reconcile deletes one revocation when it is due, or comes back then.
func (r *TokenRevocationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var rev authv1alpha1.TokenRevocation
	if err := r.Get(ctx, req.NamespacedName, &rev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	due := rev.Spec.ExpiresAt.Add(r.leeway())
	if wait := due.Sub(r.Clock.Now()); wait > 0 {
		if rev.Status.ConfirmedGeneration < rev.Generation {
			confirmed, err := r.confirm(ctx, &rev)
			if err != nil {
				return ctrl.Result{}, err
			}
			if !confirmed {
				return ctrl.Result{RequeueAfter: min(wait, confirmRetry)}, nil
			}
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	// The UID precondition keeps a revocation recreated under the same name
	// (the same token logged out again) from being deleted by this decision.
	err := r.Delete(ctx, &rev, client.Preconditions{UID: &rev.UID})
	switch {
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("deleting the expired TokenRevocation %s: %w", req.NamespacedName, err)
	}
	expiredRevocations.Inc()
	return ctrl.Result{}, nil
}

// confirm asks every ready sidecar of the revocation's SigningKey whether it
// refuses the token, and records the answer in the status. A SigningKey
// without ready sidecars is confirmed at once: nobody could accept the
// token.
func (r *TokenRevocationReconciler) confirm(ctx context.Context, rev *authv1alpha1.TokenRevocation) (bool, error) {
	start := time.Now()
	pods, err := sidecarsOf(ctx, r, rev.Namespace, rev.Spec.SigningKey)
	if err != nil {
		return false, err
	}
	query := url.Values{
		"revocation": {rev.Name},
		"generation": {strconv.FormatInt(rev.Generation, 10)},
		"wait":       {confirmWait.String()},
	}
	c := confirmAll(ctx, r.Sidecars, pods, query)
	revocationConfirmSeconds.Observe(time.Since(start).Seconds())
	confirmed := c.done()
	before := rev.DeepCopy()
	st := &rev.Status
	st.RefusedBy = c.refusedBy()
	if confirmed {
		st.ConfirmedGeneration = rev.Generation
		st.ConfirmedAt = ptr.To(metav1.NewTime(r.Clock.Now()))
		revocationConfirmations.WithLabelValues("confirmed").Inc()
	} else {
		revocationConfirmations.WithLabelValues("pending").Inc()
	}
	meta.SetStatusCondition(&st.Conditions, c.condition(authv1alpha1.ConditionConfirmed, rev.Generation, "refuse the token"))
	if err := r.Status().Patch(ctx, rev, client.MergeFrom(before)); err != nil {
		return false, fmt.Errorf("writing the status of TokenRevocation %s: %w", rev.Name, client.IgnoreNotFound(err))
	}
	return confirmed, nil
}

func (r *TokenRevocationReconciler) leeway() time.Duration {
	if r.Leeway == 0 {
		return jack.TokenLeeway
	}
	return r.Leeway
}

// SetupWithManager registers the reconciler on TokenRevocations.
func (r *TokenRevocationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		// A revocation's spec never changes, but a new one is created for
		// every logout, and its status is the operator's own write.
		For(&authv1alpha1.TokenRevocation{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Logouts wait for their confirmation: one slow sidecar must not
		// hold up the others' confirmations.
		WithOptions(controller.Options{MaxConcurrentReconciles: 8}).
		Named("tokenrevocation").
		Complete(r)
}
