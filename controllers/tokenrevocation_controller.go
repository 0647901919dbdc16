package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// TokenRevocationReconciler deletes each TokenRevocation once the token it
// names has expired: from then on every verifier refuses the token for its
// expiry, so the record would only cost memory in every sidecar watching it.
type TokenRevocationReconciler struct {
	client.Client
	Clock clock.PassiveClock
	// Leeway is how long past expiresAt a revocation is kept: the clock
	// skew the sidecars tolerate on exp, so that a sidecar whose clock is
	// behind never accepts the token after its revocation is gone. Zero
	// means the verifier's default.
	Leeway time.Duration
}

var expiredRevocations = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "jack_operator_token_revocations_expired_total",
	Help: "TokenRevocations deleted because the token they name has expired.",
})

func init() { metrics.Registry.MustRegister(expiredRevocations) }

// +kubebuilder:rbac:groups=auth.jack.io,resources=tokenrevocations,verbs=get;list;watch;create;delete

// Reconcile deletes one revocation when it is due, or comes back then.
func (r *TokenRevocationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var rev authv1alpha1.TokenRevocation
	if err := r.Get(ctx, req.NamespacedName, &rev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	due := rev.Spec.ExpiresAt.Add(r.leeway())
	if wait := due.Sub(r.Clock.Now()); wait > 0 {
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
		For(&authv1alpha1.TokenRevocation{}).
		Named("tokenrevocation").
		Complete(r)
}
