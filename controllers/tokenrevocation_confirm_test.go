package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// TestALogoutIsConfirmedByEverySidecar: the operator asks every ready
// sidecar of the revocation's SigningKey whether it refuses the token, and
// marks the revocation confirmed only once they all do, naming those that
// do not meanwhile.
func TestALogoutIsConfirmedByEverySidecar(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	now := epoch
	r := &TokenRevocationReconciler{Client: k8s, Clock: clocktesting.NewFakePassiveClock(now)}
	revoke := func(tokenID string) (*authv1alpha1.TokenRevocation, ctrl.Request) {
		rev := &authv1alpha1.TokenRevocation{
			ObjectMeta: metav1.ObjectMeta{Name: jack.RevocationName(tokenID), Namespace: h.ns},
			Spec:       authv1alpha1.TokenRevocationSpec{SigningKey: "jack", TokenID: tokenID, UserID: "staff-1", ExpiresAt: metav1.NewTime(now.Add(time.Hour))},
		}
		if err := k8s.Create(ctx, rev); err != nil {
			t.Fatal(err)
		}
		return rev, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(rev)}
	}
	confirmed := func(req ctrl.Request) (*authv1alpha1.TokenRevocation, *metav1.Condition) {
		var rev authv1alpha1.TokenRevocation
		if err := k8s.Get(ctx, req.NamespacedName, &rev); err != nil {
			t.Fatal(err)
		}
		return &rev, meta.FindStatusCondition(rev.Status.Conditions, authv1alpha1.ConditionConfirmed)
	}

	// Without sidecars, nobody can accept the token.
	_, alone := revoke("alone")
	if _, err := r.Reconcile(ctx, alone); err != nil {
		t.Fatal(err)
	}
	if rev, c := confirmed(alone); rev.Status.ConfirmedGeneration != 1 || rev.Status.RefusedBy != "0/0" || c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("a revocation without sidecars: status %+v, want confirmed by 0/0", rev.Status)
	}

	a, b := newStandIn(t), newStandIn(t)
	h.injectedPod("a", a.port(t), true)
	h.injectedPod("b", b.port(t), true)
	h.injectedPod("starting", b.port(t), false)
	rev, req := revoke("tok")
	a.refuse(rev.Name)
	res, err := r.Reconcile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter > time.Second {
		t.Errorf("an unconfirmed revocation comes back in %s, want within a second", res.RequeueAfter)
	}
	got, c := confirmed(req)
	if got.Status.ConfirmedGeneration != 0 || got.Status.RefusedBy != "1/2" || c == nil || c.Status != metav1.ConditionFalse ||
		c.Reason != authv1alpha1.ReasonAwaitingSidecars || !strings.Contains(c.Message, "b") {
		t.Fatalf("confirmed by a only: status %+v, condition %+v; want 1/2, AwaitingSidecars naming b", got.Status, c)
	}

	b.refuse(rev.Name)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	got, c = confirmed(req)
	if got.Status.ConfirmedGeneration != 1 || got.Status.RefusedBy != "2/2" || got.Status.ConfirmedAt == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("confirmed by both: status %+v, want generation 1 by 2/2", got.Status)
	}

	// A sidecar whose ops port does not answer is named as such.
	silent := newStandIn(t)
	port := silent.port(t)
	silent.srv.Close()
	h.injectedPod("silent", port, true)
	rev, req = revoke("tok2")
	a.refuse(rev.Name)
	b.refuse(rev.Name)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got, c := confirmed(req); got.Status.RefusedBy != "2/3" || c.Reason != authv1alpha1.ReasonSidecarsUnreachable || !strings.Contains(c.Message, "silent") {
		t.Fatalf("with a silent sidecar: status %+v, condition %+v; want 2/3, SidecarsUnreachable naming it", got.Status, c)
	}
}

// TestEndingSessionsIsConfirmedByEverySidecar: auth.jack.io/end-sessions
// ends a user's sessions once per value, and the status says when every
// ready sidecar of the namespace refuses the ended sessions' tokens.
func TestEndingSessionsIsConfirmedByEverySidecar(t *testing.T) {
	h := newUserHarness(t)
	ctx := context.Background()
	h.setPassword("pw", "a good long password")
	h.createUser("gus", "gus@example.com", jack.RoleStaff, "pw")
	h.reconcile()
	if got := h.user("gus").Status.SessionsValidAfter; got != nil {
		t.Fatalf("a new user's sessions ended at %s", got)
	}

	h.clock.Step(time.Minute)
	h.updateUser("gus", func(u *authv1alpha1.JackUser) { u.Annotations = map[string]string{jack.AnnotationEndSessions: "1"} })
	h.reconcile()
	u := h.user("gus")
	ended := u.Status.SessionsValidAfter
	if ended == nil || !ended.Time.Equal(h.clock.Now()) || u.Status.LastEndSessionsRequest != "1" {
		t.Fatalf("after end-sessions=1: sessionsValidAfter %v, lastEndSessionsRequest %q; want %s and 1", ended, u.Status.LastEndSessionsRequest, h.clock.Now())
	}
	if e := h.entry("gus@example.com"); e == nil || !e.SessionsValidAfter.Equal(ended.Time) {
		t.Errorf("the directory says sessions ended at %v, the status %s", e, ended)
	}
	// The same value again ends nothing.
	h.clock.Step(time.Minute)
	h.reconcile()
	if again := h.user("gus").Status.SessionsValidAfter; !again.Equal(ended) {
		t.Errorf("the same end-sessions value ended sessions again at %s", again)
	}

	r := &SessionsEndReconciler{Client: k8s, Clock: clocktesting.NewFakePassiveClock(ended.Time)}
	req := ctrl.Request{NamespacedName: client.ObjectKey{Namespace: h.ns, Name: "gus"}}
	a, b := newStandIn(t), newStandIn(t)
	hk := &harness{t: t, ns: h.ns}
	hk.injectedPod("a", a.port(t), true)
	hk.injectedPod("b", b.port(t), true)
	a.endSessions("gus", ended.Time)
	res, err := r.Reconcile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	c := meta.FindStatusCondition(h.user("gus").Status.Conditions, authv1alpha1.ConditionSessionsEnded)
	if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "b") || res.RequeueAfter != confirmRetry {
		t.Fatalf("confirmed by a only: condition %+v, requeue %s; want False naming b, again in a second", c, res.RequeueAfter)
	}
	b.endSessions("gus", ended.Time)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	u = h.user("gus")
	c = meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionSessionsEnded)
	if c == nil || c.Status != metav1.ConditionTrue || u.Status.SessionsEndConfirmed == nil || !u.Status.SessionsEndConfirmed.Equal(ended) {
		t.Fatalf("confirmed by both: condition %+v, sessionsEndConfirmed %v", c, u.Status.SessionsEndConfirmed)
	}
	if ready := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		t.Errorf("the Ready condition was lost: %+v", u.Status.Conditions)
	}
}
