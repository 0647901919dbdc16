package controllers

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// SessionsEndReconciler confirms, with every ready sidecar of a JackUser's
// namespace, that it refuses the user's tokens issued before
// status.sessionsValidAfter — after a password change, a disable or an
// auth.jack.io/end-sessions request — and says so in the status
// (sessionsEndConfirmed, the SessionsEnded condition), so that whoever ended
// the sessions can wait until no replica accepts them:
//
//	kubectl wait jackuser/NAME --for=condition=SessionsEnded
//
// It only reads sidecars and writes that part of the status; the JackUser
// reconciler decides when sessions end.
type SessionsEndReconciler struct {
	client.Client
	Clock clock.PassiveClock
	// Sidecars asks sidecars to confirm; HTTPSidecarReader unless a test
	// needs otherwise.
	Sidecars SidecarReader
}

// sessionsConfirmPatience is how long after the sessions ended a sidecar
// that has not confirmed is asked again every second; past it, every half
// minute, until it does or goes away.
const sessionsConfirmPatience = time.Minute

// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// Reconcile confirms one user's latest end of sessions.
func (r *SessionsEndReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var u authv1alpha1.JackUser
	if err := r.Get(ctx, req.NamespacedName, &u); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ended := u.Status.SessionsValidAfter
	if ended == nil || (u.Status.SessionsEndConfirmed != nil && u.Status.SessionsEndConfirmed.Equal(ended)) {
		return ctrl.Result{}, nil
	}
	pods, err := sidecarsOf(ctx, r, u.Namespace, "")
	if err != nil {
		return ctrl.Result{}, err
	}
	query := url.Values{
		"user":               {u.Name},
		"sessionsValidAfter": {ended.UTC().Format(time.RFC3339)},
		"wait":               {confirmWait.String()},
	}
	c := confirmAll(ctx, r.Sidecars, pods, query)
	before := u.DeepCopy()
	confirmed := c.done()
	if confirmed {
		u.Status.SessionsEndConfirmed = ended.DeepCopy()
	}
	cond := c.condition(authv1alpha1.ConditionSessionsEnded, u.Generation,
		"refuse the tokens issued before "+ended.UTC().Format(time.RFC3339))
	meta.SetStatusCondition(&u.Status.Conditions, cond)
	if !equality.Semantic.DeepEqual(before.Status, u.Status) {
		// The JackUser reconciler writes the rest of the status: the lock
		// makes a concurrent write of its fail this one, which is retried,
		// instead of being overwritten.
		if err := r.Status().Patch(ctx, &u, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, fmt.Errorf("writing the status of JackUser %s: %w", u.Name, err)
		}
	}
	if confirmed {
		return ctrl.Result{}, nil
	}
	if r.Clock.Since(ended.Time) < sessionsConfirmPatience {
		return ctrl.Result{RequeueAfter: confirmRetry}, nil
	}
	return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
}

// SetupWithManager registers the reconciler on JackUsers whose sessions
// ended anew.
func (r *SessionsEndReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	sessionsEnded := predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, ok1 := e.ObjectOld.(*authv1alpha1.JackUser)
			after, ok2 := e.ObjectNew.(*authv1alpha1.JackUser)
			return !ok1 || !ok2 || !equality.Semantic.DeepEqual(before.Status.SessionsValidAfter, after.Status.SessionsValidAfter)
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&authv1alpha1.JackUser{}, builder.WithPredicates(sessionsEnded)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("sessionsend").
		Complete(r)
}
