package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// loginHarness drives a UserLoginReconciler by hand, after the JackUser
// reconciler of a userHarness, against the real API server and stand-in
// sidecars.
type loginHarness struct {
	*userHarness
	r *UserLoginReconciler
}

// newLoginHarness shares the user harness's clock between both reconcilers.
func newLoginHarness(t *testing.T) *loginHarness {
	h := &loginHarness{userHarness: newUserHarness(t)}
	h.r = &UserLoginReconciler{Client: k8s, Clock: h.clock}
	return h
}

// confirm runs one round for the JackUser name and returns when it comes
// back, with its Propagated condition and status as written.
func (h *loginHarness) confirm(name string) (time.Duration, *metav1.Condition, *authv1alpha1.JackUser) {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: h.ns, Name: name}})
	if err != nil {
		h.t.Fatalf("confirming the login of %s: %v", name, err)
	}
	u := h.user(name)
	return res.RequeueAfter, meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionPropagated), u
}

// wantPropagated checks the condition and status.propagatedPasswordVersion:
// set to the current passwordVersion when True, empty when not.
func (h *loginHarness) wantPropagated(u *authv1alpha1.JackUser, c *metav1.Condition, status metav1.ConditionStatus, reason string, mentions ...string) {
	h.t.Helper()
	if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != u.Generation {
		h.t.Fatalf("Propagated = %+v; want %s %s at generation %d", c, status, reason, u.Generation)
	}
	for _, m := range mentions {
		if !strings.Contains(c.Message, m) {
			h.t.Errorf("Propagated says %q; want it to mention %q", c.Message, m)
		}
	}
	want := ""
	if status == metav1.ConditionTrue {
		want = u.Status.PasswordVersion
	}
	if u.Status.PropagatedPasswordVersion != want {
		h.t.Errorf("status.propagatedPasswordVersion = %q with Propagated %s; want %q", u.Status.PropagatedPasswordVersion, status, want)
	}
}

// TestANewUserOrPasswordIsPropagatedOnlyOnceEverySidecarLogsThemIn: a
// JackUser is Ready as soon as its hash is in the directory Secret, but
// Propagated only once every ready sidecar of the namespace has loaded it
// (the kubelet takes a minute or more); a password change makes it False
// again until they have the new one.
func TestANewUserOrPasswordIsPropagatedOnlyOnceEverySidecarLogsThemIn(t *testing.T) {
	h := newLoginHarness(t)
	h.setPassword("pw", "a good long password")

	// Without a ready sidecar, nobody can refuse the login: one that starts
	// mounts the directory as it is.
	h.createUser("solo", "solo@example.com", jack.RoleStaff, "pw")
	h.reconcile()
	res, c, u := h.confirm("solo")
	h.wantPropagated(u, c, metav1.ConditionTrue, authv1alpha1.ReasonConfirmed, "no ready sidecar")
	if res != 0 {
		t.Errorf("a confirmed login comes back in %s", res)
	}

	a, b := newStandIn(t), newStandIn(t)
	hk := &harness{t: t, ns: h.ns}
	hk.injectedPod("jack-a", a.port(t), true)
	hk.injectedPod("jack-b", b.port(t), true)
	hk.injectedPod("jack-starting", b.port(t), false) // not ready: not asked

	h.createUser("eve", "eve@example.com", jack.RoleStaff, "pw")
	h.reconcile()
	u = h.user("eve")
	if status, _ := readyOf(u); status != "True" || u.Status.PasswordVersion == "" || u.Status.ID == "" {
		t.Fatalf("eve is not Ready with a password version: %+v", u.Status)
	}
	id, first := u.Status.ID, u.Status.PasswordVersion

	// Only a has loaded the directory with eve: b is named.
	a.loadLogin("eve", id, "eve@example.com", first, false)
	res, c, u = h.confirm("eve")
	h.wantPropagated(u, c, metav1.ConditionFalse, authv1alpha1.ReasonAwaitingSidecars, "1 of 2", "jack-b", "log eve@example.com in with the current password")
	if strings.Contains(c.Message, "jack-a") {
		t.Errorf("the sidecar that confirmed is named: %q", c.Message)
	}
	if res != confirmRetry {
		t.Errorf("an unconfirmed login comes back in %s, want %s", res, confirmRetry)
	}
	if ready := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		t.Errorf("the Ready condition was lost: %+v", u.Status.Conditions)
	}

	b.loadLogin("eve", id, "eve@example.com", first, false)
	res, c, u = h.confirm("eve")
	h.wantPropagated(u, c, metav1.ConditionTrue, authv1alpha1.ReasonConfirmed,
		"every ready sidecar (2) confirmed that they log eve@example.com in with the current password")
	if res != 0 {
		t.Errorf("a confirmed login comes back in %s", res)
	}
	// Confirmed, it is not asked again.
	asked := a.loginQuestions()
	h.confirm("eve")
	if a.loginQuestions() != asked {
		t.Error("a confirmed login was asked about again")
	}

	// A new password: False until both have the new hash; the sidecars
	// named are those still on the old one.
	h.setPassword("pw", "another good long password")
	h.reconcile()
	second := h.user("eve").Status.PasswordVersion
	if second == first {
		t.Fatal("the password version did not change with the password")
	}
	_, c, u = h.confirm("eve")
	h.wantPropagated(u, c, metav1.ConditionFalse, authv1alpha1.ReasonAwaitingSidecars, "2 of 2", "jack-a", "jack-b")
	// Asked every second for the kubelet's minute, then every half minute.
	h.clock.Step(loginConfirmPatience)
	if res, _, _ := h.confirm("eve"); res != 30*time.Second {
		t.Errorf("past %s, an unconfirmed login comes back in %s, want 30s", loginConfirmPatience, res)
	}
	a.loadLogin("eve", id, "eve@example.com", second, false)
	b.loadLogin("eve", id, "eve@example.com", second, false)
	_, c, u = h.confirm("eve")
	h.wantPropagated(u, c, metav1.ConditionTrue, authv1alpha1.ReasonConfirmed)

	// A new email is a new generation: confirmed anew, with the new email.
	h.updateUser("eve", func(u *authv1alpha1.JackUser) { u.Spec.Email = "eve.new@example.com" })
	h.reconcile()
	_, c, u = h.confirm("eve")
	h.wantPropagated(u, c, metav1.ConditionFalse, authv1alpha1.ReasonAwaitingSidecars, "eve.new@example.com")

	// Disabled: confirmed as refused, with the current entry.
	h.updateUser("eve", func(u *authv1alpha1.JackUser) { u.Spec.Disabled = true })
	h.reconcile()
	a.loadLogin("eve", id, "eve.new@example.com", second, true)
	b.loadLogin("eve", id, "eve.new@example.com", second, true)
	_, c, u = h.confirm("eve")
	h.wantPropagated(u, c, metav1.ConditionTrue, authv1alpha1.ReasonConfirmed, "have eve.new@example.com disabled")

	// A user who cannot log in for another reason has nothing to propagate.
	if err := k8s.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: h.ns}}); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if _, c, u = h.confirm("solo"); c != nil || u.Status.PropagatedPasswordVersion != "" {
		t.Errorf("a user whose password Secret is gone: Propagated %+v, propagatedPasswordVersion %q; want neither", c, u.Status.PropagatedPasswordVersion)
	}
}

// TestASidecarThatDoesNotAnswerIsNamedForALogin: a ready sidecar whose ops
// port does not answer keeps the login unconfirmed, as SidecarsUnreachable.
func TestASidecarThatDoesNotAnswerIsNamedForALogin(t *testing.T) {
	h := newLoginHarness(t)
	h.setPassword("pw", "a good long password")
	silent := newStandIn(t)
	port := silent.port(t)
	silent.srv.Close()
	(&harness{t: t, ns: h.ns}).injectedPod("jack-silent", port, true)
	h.createUser("eve", "eve@example.com", jack.RoleStaff, "pw")
	h.reconcile()
	_, c, u := h.confirm("eve")
	h.wantPropagated(u, c, metav1.ConditionFalse, authv1alpha1.ReasonSidecarsUnreachable, "jack-silent")
}
