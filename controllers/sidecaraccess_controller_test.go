package controllers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// These tests call the reconcilers directly, reading and writing through
// the real API server; the impersonation test asks that same API server's
// RBAC authorizer what the sidecars' service accounts may do.

func reconcileAccess(t *testing.T, ns string) {
	t.Helper()
	r := &SidecarAccessReconciler{Client: k8s}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: jack.SidecarRoleName}}); err != nil {
		t.Fatalf("reconciling the sidecar access of %s: %v", ns, err)
	}
}

func bindingSubjects(t *testing.T, ns string) []string {
	t.Helper()
	var rb rbacv1.RoleBinding
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: jack.SidecarRoleName}, &rb); err != nil {
		t.Fatalf("getting the sidecar RoleBinding: %v", err)
	}
	var names []string
	for _, s := range rb.Subjects {
		names = append(names, s.Kind+"/"+s.Name)
	}
	return names
}

// injectedPod creates a pod as the webhook leaves it: opted in, annotated as
// injected (this suite's webhook runs for pods too, but the annotation is
// all the reconciler reads), running as serviceAccount.
func injectedPod(t *testing.T, ns, name, serviceAccount string, injected bool) *corev1.Pod {
	t.Helper()
	p := jackPod(ns, name, true)
	p.Spec.ServiceAccountName = serviceAccount
	if err := createPod(t, p); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	if !injected {
		delete(p.Annotations, jack.AnnotationInjectedVersion)
		if err := k8s.Update(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestSidecarsGetExactlyTheirAccessWhereASigningKeyIs(t *testing.T) {
	ctx := context.Background()
	ns := injectionNamespace(t, true)

	// No SigningKey: no access.
	reconcileAccess(t, ns)
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: jack.SidecarRoleName}, &rbacv1.Role{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a namespace without a SigningKey has a sidecar Role (err %v)", err)
	}

	key := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: ns}}
	if err := k8s.Create(ctx, key); err != nil {
		t.Fatal(err)
	}
	reconcileAccess(t, ns)
	var role rbacv1.Role
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: jack.SidecarRoleName}, &role); err != nil {
		t.Fatalf("no sidecar Role after a SigningKey: %v", err)
	}
	for _, rule := range role.Rules {
		if slices.Contains(rule.Resources, "secrets") || slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") {
			t.Errorf("the sidecar Role grants %v on %v", rule.Verbs, rule.Resources)
		}
	}
	if len(role.OwnerReferences) != 1 || role.OwnerReferences[0].UID != key.UID {
		t.Errorf("the Role's owners are %+v, want the SigningKey", role.OwnerReferences)
	}
	if got := bindingSubjects(t, ns); len(got) != 0 {
		t.Errorf("subjects %v before any pod was injected", got)
	}

	// Injected pods' service accounts are bound, once each; a pod that opted
	// in without being injected, and a finished pod, are not.
	injectedPod(t, ns, "app-1", "jack-app", true)
	injectedPod(t, ns, "app-2", "jack-app", true)
	injectedPod(t, ns, "app-3", "", true)
	injectedPod(t, ns, "other", "other", false)
	done := injectedPod(t, ns, "job", "batch", true)
	done.Status.Phase = corev1.PodSucceeded
	if err := k8s.Status().Update(ctx, done); err != nil {
		t.Fatal(err)
	}
	reconcileAccess(t, ns)
	if got, want := bindingSubjects(t, ns), []string{"ServiceAccount/default", "ServiceAccount/jack-app"}; !slices.Equal(got, want) {
		t.Errorf("subjects %v, want %v", got, want)
	}

	// What the bound account may do, asked of the API server's authorizer.
	sa := rest.CopyConfig(env.Config)
	sa.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":jack-app",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	asSidecar, err := client.New(sa, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jack-user-directory", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := asSidecar.Get(ctx, types.NamespacedName{Namespace: ns, Name: "jack-user-directory"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
		t.Errorf("the sidecar's service account can get a Secret (err %v)", err)
	}
	if err := asSidecar.List(ctx, &corev1.SecretList{}, client.InNamespace(ns)); !apierrors.IsForbidden(err) {
		t.Errorf("the sidecar's service account can list Secrets (err %v)", err)
	}
	if err := asSidecar.List(ctx, &corev1.SecretList{}); !apierrors.IsForbidden(err) {
		t.Errorf("the sidecar's service account can list Secrets cluster-wide (err %v)", err)
	}
	if err := asSidecar.List(ctx, &authv1alpha1.JackUserList{}, client.InNamespace(ns)); err != nil {
		t.Errorf("the sidecar's service account cannot list JackUsers: %v", err)
	}
	if err := asSidecar.List(ctx, &authv1alpha1.SigningKeyList{}, client.InNamespace(ns), client.MatchingFields{"metadata.name": "jack"}); err != nil {
		t.Errorf("the sidecar's service account cannot list its SigningKey: %v", err)
	}
	if err := asSidecar.Status().Patch(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: ns}},
		client.RawPatch(types.MergePatchType, []byte(`{"status":{"activeKeyID":"forged"}}`))); !apierrors.IsForbidden(err) {
		t.Errorf("the sidecar's service account can change a SigningKey's status (err %v)", err)
	}
	if err := asSidecar.Patch(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: ns}},
		client.RawPatch(types.MergePatchType, []byte(`{"spec":{"revokedKeyIDs":["forged"]}}`))); !apierrors.IsForbidden(err) {
		t.Errorf("the sidecar's service account can change a SigningKey's spec (err %v)", err)
	}
	rev := &authv1alpha1.TokenRevocation{
		ObjectMeta: metav1.ObjectMeta{Name: jack.RevocationName("tok-1"), Namespace: ns},
		Spec:       authv1alpha1.TokenRevocationSpec{SigningKey: "jack", TokenID: "tok-1", ExpiresAt: metav1.NewTime(time.Now().Add(time.Hour))},
	}
	if err := asSidecar.Create(ctx, rev); err != nil {
		t.Errorf("the sidecar's service account cannot create a TokenRevocation: %v", err)
	}
	if err := asSidecar.Delete(ctx, rev); !apierrors.IsForbidden(err) {
		t.Errorf("the sidecar's service account can delete a TokenRevocation (err %v)", err)
	}
	if err := asSidecar.Patch(ctx, &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "anyone", Namespace: ns}},
		client.RawPatch(types.MergePatchType, []byte(`{"spec":{"role":"admin"}}`))); !apierrors.IsForbidden(err) {
		t.Errorf("the sidecar's service account can change a JackUser (err %v)", err)
	}
	otherNS := injectionNamespace(t, true, "jack")
	if err := asSidecar.List(ctx, &authv1alpha1.JackUserList{}, client.InNamespace(otherNS)); !apierrors.IsForbidden(err) {
		t.Errorf("the sidecar's service account can list another namespace's JackUsers (err %v)", err)
	}
	asOther := rest.CopyConfig(sa)
	asOther.Impersonate.UserName = "system:serviceaccount:" + ns + ":other"
	other, err := client.New(asOther, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.List(ctx, &authv1alpha1.JackUserList{}, client.InNamespace(ns)); !apierrors.IsForbidden(err) {
		t.Errorf("a service account without an injected pod can list JackUsers (err %v)", err)
	}

	// The last pod of an account gone: its access goes.
	for _, name := range []string{"app-1", "app-2"} {
		if err := k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, client.GracePeriodSeconds(0)); err != nil {
			t.Fatal(err)
		}
	}
	reconcileAccess(t, ns)
	if got, want := bindingSubjects(t, ns), []string{"ServiceAccount/default"}; !slices.Equal(got, want) {
		t.Errorf("after the jack-app pods left, subjects %v, want %v", got, want)
	}

	// The last SigningKey gone: the Role and RoleBinding go.
	if err := k8s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	reconcileAccess(t, ns)
	for _, o := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: jack.SidecarRoleName}, o); !apierrors.IsNotFound(err) {
			t.Errorf("%T still there after the last SigningKey was deleted (err %v)", o, err)
		}
	}
}

func TestARoleTheOperatorDoesNotManageIsLeftAloneWithASentence(t *testing.T) {
	ctx := context.Background()
	ns := injectionNamespace(t, true, "jack")
	if err := k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: jack.SidecarRoleName, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	r := &SidecarAccessReconciler{Client: k8s}
	_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: jack.SidecarRoleName}})
	if err == nil || !strings.Contains(err.Error(), "not managed by the operator") {
		t.Fatalf("reconciling over someone else's Role: err %v, want a refusal saying so", err)
	}
	var role rbacv1.Role
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: jack.SidecarRoleName}, &role); err != nil || len(role.Rules) != 0 {
		t.Errorf("someone else's Role was changed: %+v (err %v)", role.Rules, err)
	}
}

func TestTokenRevocationsAreDeletedOnceTheirTokenExpired(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := clocktesting.NewFakePassiveClock(now)
	r := &TokenRevocationReconciler{Client: k8s, Clock: clock}
	rev := &authv1alpha1.TokenRevocation{
		ObjectMeta: metav1.ObjectMeta{Name: jack.RevocationName("tok"), Namespace: ns, Labels: map[string]string{jack.LabelSigningKey: "jack"}},
		Spec:       authv1alpha1.TokenRevocationSpec{SigningKey: "jack", TokenID: "tok", UserID: "staff-1", ExpiresAt: metav1.NewTime(now.Add(time.Hour))},
	}
	if err := k8s.Create(ctx, rev); err != nil {
		t.Fatal(err)
	}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(rev)}
	res, err := r.Reconcile(ctx, req)
	if err != nil || res.RequeueAfter != time.Hour+30*time.Second {
		t.Fatalf("an unexpired revocation: %+v, %v; want to come back when the token and the verifiers' leeway are past", res, err)
	}
	clock.SetTime(now.Add(time.Hour + 29*time.Second))
	if res, err := r.Reconcile(ctx, req); err != nil || res.RequeueAfter != time.Second {
		t.Fatalf("within the leeway: %+v, %v", res, err)
	}
	clock.SetTime(now.Add(time.Hour + 30*time.Second))
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, req.NamespacedName, &authv1alpha1.TokenRevocation{}); !apierrors.IsNotFound(err) {
		t.Errorf("the expired revocation is still there (err %v)", err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Errorf("reconciling a revocation already gone: %v", err)
	}

	// A revocation only grows stricter: what it names cannot change, and it
	// cannot expire sooner.
	if err := k8s.Create(ctx, rev.DeepCopy()); err == nil {
		t.Fatal("re-creating with a set resourceVersion should fail")
	}
	fresh := rev.DeepCopy()
	fresh.ResourceVersion = ""
	if err := k8s.Create(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	for what, change := range map[string]func(*authv1alpha1.TokenRevocationSpec){
		"cannot be changed":   func(s *authv1alpha1.TokenRevocationSpec) { s.TokenID = "another" },
		"cannot come sooner":  func(s *authv1alpha1.TokenRevocationSpec) { s.ExpiresAt = metav1.NewTime(now) },
		"belong to a session": func(s *authv1alpha1.TokenRevocationSpec) { s.Ended = true },
	} {
		edited := fresh.DeepCopy()
		change(&edited.Spec)
		if err := k8s.Update(ctx, edited); err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("an edit that %s: err %v, want a refusal saying so", what, err)
		}
	}
}
