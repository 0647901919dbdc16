package controllers

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// UserLoginReconciler confirms, with every ready sidecar of a JackUser's
// namespace, that it logs the user in with their current email and
// password, and says so in the status (propagatedPasswordVersion, the
// Propagated condition). A JackUser is Ready as soon as the operator has
// written its hash to the user directory Secret, but the sidecars read
// hashes only from their mounted copy, which the kubelet refreshes a minute
// or more later; until then a login of a new user, or with a new password,
// is refused. Whoever made the change can wait until it works at every
// replica:
//
//	kubectl wait jackuser/NAME --for=condition=Propagated
//
// A disabled user is confirmed too: Propagated then says every sidecar has
// their current entry, disabled, and enabling them (a new generation) makes
// it False until every sidecar's directory lets them in again. A user that
// is not Ready for any other reason has no Propagated condition: there is
// no login to propagate. It only reads sidecars and writes that part of the
// status; the JackUser reconciler decides what the directory holds.
type UserLoginReconciler struct {
	client.Client
	Clock clock.PassiveClock
	// Sidecars asks sidecars to confirm; HTTPSidecarReader unless a test
	// needs otherwise.
	Sidecars SidecarReader

	// pending is, per JackUser, the change being confirmed and when it was
	// first asked about: it sets how soon the next round comes.
	mu      sync.Mutex
	pending map[types.NamespacedName]pendingLogin
}

type pendingLogin struct {
	target loginTarget
	since  time.Time
}

// loginConfirmPatience is how long after a change the sidecars are asked
// again every second; past it, every half minute, until they all confirm
// or go away. The kubelet brings a changed Secret to a pod within its sync
// period plus its cache's TTL, typically 60 to 90 seconds.
const loginConfirmPatience = 3 * time.Minute

// loginTarget is what every sidecar must confirm of a JackUser: that its
// directory and its watch let them log in (or hold them disabled) as the
// user's generation says.
type loginTarget struct {
	generation                 int64
	id, email, passwordVersion string
	disabled                   bool
}

// loginTargetOf is what a JackUser's sidecars must confirm, and false when
// there is nothing to confirm: the JackUser reconciler has not caught up
// with its spec yet, or the user has no login in the directory (not Ready
// for a reason other than being disabled).
func loginTargetOf(u *authv1alpha1.JackUser) (loginTarget, bool) {
	ready := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady)
	if ready == nil || ready.ObservedGeneration != u.Generation || u.Status.PasswordVersion == "" || u.EffectiveID() == "" ||
		(ready.Status != metav1.ConditionTrue && ready.Reason != authv1alpha1.ReasonUserDisabled) {
		return loginTarget{}, false
	}
	return loginTarget{generation: u.Generation, id: u.EffectiveID(), email: u.Spec.Email,
		passwordVersion: u.Status.PasswordVersion, disabled: u.Spec.Disabled}, true
}

// query is the /confirm question of the login of the JackUser name
// (jack.SidecarConfirmPath).
func (t loginTarget) query(name string) url.Values {
	q := url.Values{
		"login":           {name},
		"id":              {t.id},
		"email":           {t.email},
		"passwordVersion": {t.passwordVersion},
		"wait":            {confirmWait.String()},
	}
	if t.disabled {
		q.Set("disabled", "true")
	}
	return q
}

// what is what the sidecars confirm, for the condition's message.
func (t loginTarget) what() string {
	if t.disabled {
		return fmt.Sprintf("have %s disabled, with the current password", t.email)
	}
	return fmt.Sprintf("log %s in with the current password", t.email)
}

// confirmed reports whether the status already says every ready sidecar
// confirmed t.
func confirmed(u *authv1alpha1.JackUser, t loginTarget) bool {
	c := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionPropagated)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == t.generation &&
		u.Status.PropagatedPasswordVersion == t.passwordVersion
}

// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// Reconcile confirms one user's current login with every ready sidecar.
func (r *UserLoginReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var u authv1alpha1.JackUser
	if err := r.Get(ctx, req.NamespacedName, &u); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	target, ok := loginTargetOf(&u)
	before := u.DeepCopy()
	switch {
	case !ok && u.Status.ObservedGeneration != u.Generation:
		// The JackUser reconciler's next status write brings us back.
		return ctrl.Result{}, nil
	case !ok:
		r.forget(req.NamespacedName)
		meta.RemoveStatusCondition(&u.Status.Conditions, authv1alpha1.ConditionPropagated)
		u.Status.PropagatedPasswordVersion = ""
		return ctrl.Result{}, r.patchStatus(ctx, before, &u)
	case confirmed(&u, target):
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	since := r.asking(req.NamespacedName, target)

	pods, err := sidecarsOf(ctx, r, u.Namespace, "")
	if err != nil {
		return ctrl.Result{}, err
	}
	c := confirmAll(ctx, r.Sidecars, pods, target.query(u.Name))
	cond := c.condition(authv1alpha1.ConditionPropagated, target.generation, target.what())
	u.Status.PropagatedPasswordVersion = ""
	if c.done() {
		u.Status.PropagatedPasswordVersion = target.passwordVersion
		if c.total == 0 {
			// A sidecar that starts later mounts the directory as it is then.
			cond.Message = fmt.Sprintf("no ready sidecar in namespace %s: one that starts will %s", u.Namespace, target.what())
		}
	}
	meta.SetStatusCondition(&u.Status.Conditions, cond)
	if err := r.patchStatus(ctx, before, &u); err != nil {
		return ctrl.Result{}, err
	}
	if c.done() {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if r.Clock.Since(since) < loginConfirmPatience {
		return ctrl.Result{RequeueAfter: confirmRetry}, nil
	}
	return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
}

// patchStatus writes the status when it changed. The JackUser and
// sessions-end reconcilers write the rest of it: the lock makes a
// concurrent write of theirs fail this one, which is retried, instead of
// being overwritten.
func (r *UserLoginReconciler) patchStatus(ctx context.Context, before, u *authv1alpha1.JackUser) error {
	if equality.Semantic.DeepEqual(before.Status, u.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, u, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing the status of JackUser %s: %w", u.Name, err)
	}
	return nil
}

// asking records that the sidecars are asked about t, and returns when
// they were first asked about it.
func (r *UserLoginReconciler) asking(key types.NamespacedName, t loginTarget) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = map[types.NamespacedName]pendingLogin{}
	}
	p, ok := r.pending[key]
	if !ok || p.target != t {
		p = pendingLogin{target: t, since: r.Clock.Now()}
		r.pending[key] = p
	}
	return p.since
}

func (r *UserLoginReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, key)
}

// SetupWithManager registers the reconciler on JackUsers whose login
// changed: a new user, a new password, email or id, disabled or enabled,
// or a Ready condition that came or went.
func (r *UserLoginReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	loginChanged := predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, ok1 := e.ObjectOld.(*authv1alpha1.JackUser)
			after, ok2 := e.ObjectNew.(*authv1alpha1.JackUser)
			if !ok1 || !ok2 {
				return true
			}
			// The status's observedGeneration too: a spec change that
			// leaves the user without a login (a duplicate email) is one
			// write of the JackUser reconciler after the change itself.
			t1, had := loginTargetOf(before)
			t2, has := loginTargetOf(after)
			return had != has || t1 != t2 || before.Status.ObservedGeneration != after.Status.ObservedGeneration
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&authv1alpha1.JackUser{}, builder.WithPredicates(loginChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("userlogin").
		Complete(r)
}
