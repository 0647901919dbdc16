package controllers

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// What the operator makes in a namespace goes when the JackUsers and
// SigningKeys that need it go: the user directory (password hashes) the
// operator deletes itself; the SigningKeys' Secrets (key material) and JWKS
// ConfigMaps the garbage collector deletes through their owner references.
// envtest runs no garbage collector, so for those the test asserts the
// owner reference that makes it delete them: a controller reference, with
// blockOwnerDeletion, to a SigningKey that no longer exists.
func TestNothingWithHashesOrKeysOutlivesTheLastJackUserAndSigningKey(t *testing.T) {
	ctx := context.Background()
	users := newUserHarness(t)
	ns := users.ns
	keys := &harness{t: t, ns: ns, clock: clocktesting.NewFakeClock(epoch), events: &recordedEvents{}}
	keys.r = &SigningKeyReconciler{Client: k8s, Recorder: keys.events, Clock: keys.clock, Generate: keyring.Generate,
		reads: &sidecarStates{}, laggards: &laggardEvents{}}

	// What the user makes, and is the user's to delete: the password Secrets.
	usersOwn := []string{"alice-pw", "bob-pw"}
	keys.create("jack", authv1alpha1.SigningKeySpec{})
	keys.create("partners", authv1alpha1.SigningKeySpec{Algorithm: jack.AlgorithmES256})
	keys.reconcile("jack")
	keys.reconcile("partners")
	users.setPassword("alice-pw", "correct horse battery")
	users.setPassword("bob-pw", "another long passphrase")
	users.createUser("alice", "alice@example.com", jack.RoleStaff, "alice-pw")
	users.createUser("bob", "bob@example.com", jack.RoleAdmin, "bob-pw")
	users.reconcile()
	reconcileAccess(t, ns)
	if d, _ := users.directory(); len(d.Users) != 2 {
		t.Fatalf("the directory holds %d users, want 2", len(d.Users))
	}
	made := operatorObjects(t, ns, usersOwn)
	for _, want := range []string{"Secret/" + jack.UserDirectorySecretName, "Secret/jack-jwt", "Secret/partners-jwt", "ConfigMap/partners-jwt-jwks", "Role/" + jack.SidecarRoleName, "RoleBinding/" + jack.SidecarRoleName} {
		if !slices.Contains(made, want) {
			t.Errorf("the operator did not make %s (it made %v): the test no longer looks at everything it makes", want, made)
		}
	}

	// The users go first: the directory stays for the sidecars, which
	// mount it, but holds no hash.
	for _, name := range []string{"alice", "bob"} {
		if err := k8s.Delete(ctx, users.user(name)); err != nil {
			t.Fatal(err)
		}
	}
	users.reconcile()
	if d, _ := users.directory(); len(d.Users) != 0 {
		t.Fatalf("with every JackUser deleted the directory still holds %d users", len(d.Users))
	}

	// Then the SigningKeys: nothing of the operator's is left, or it is the
	// garbage collector's to delete.
	owners := map[types.UID]string{}
	for _, name := range []string{"jack", "partners"} {
		k := keys.get(name)
		owners[k.UID] = name
		if err := k8s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	users.reconcile()
	reconcileAccess(t, ns)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: jack.UserDirectorySecretName}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("the user directory outlives the namespace's last JackUser and SigningKey (get: %v)", err)
	}
	for _, o := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: jack.SidecarRoleName}, o); !apierrors.IsNotFound(err) {
			t.Errorf("the sidecars' %T outlives the namespace's last SigningKey (get: %v)", o, err)
		}
	}
	var secrets corev1.SecretList
	var configMaps corev1.ConfigMapList
	if err := k8s.List(ctx, &secrets, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if err := k8s.List(ctx, &configMaps, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var left []client.Object
	for i := range secrets.Items {
		left = append(left, &secrets.Items[i])
	}
	for i := range configMaps.Items {
		left = append(left, &configMaps.Items[i])
	}
	for _, o := range left {
		kind := "Secret"
		if _, ok := o.(*corev1.ConfigMap); ok {
			kind = "ConfigMap"
		}
		if slices.Contains(usersOwn, o.GetName()) || (kind == "ConfigMap" && o.GetName() == "kube-root-ca.crt") {
			continue
		}
		ref := metav1.GetControllerOf(o)
		switch {
		case ref == nil:
			t.Errorf("%s %s is left with no owner, so nothing will ever delete it", kind, o.GetName())
		case ref.Kind != "SigningKey" || owners[ref.UID] == "":
			t.Errorf("%s %s is owned by %s %s, not by a deleted SigningKey", kind, o.GetName(), ref.Kind, ref.Name)
		case ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion:
			t.Errorf("%s %s does not block its SigningKey's foreground deletion, so kubectl delete --cascade=foreground could return before it is gone", kind, o.GetName())
		}
	}

	// A JackUser created afterwards gets a directory again.
	users.createUser("alice", "alice@example.com", jack.RoleStaff, "alice-pw")
	users.reconcile()
	if e := users.entry("alice@example.com"); !verifies(t, e, "correct horse battery") {
		t.Fatalf("a JackUser created after the directory was deleted is not in a new one: %+v", e)
	}
}

// The operator deletes only its own directory: a Secret of that name that it
// did not make stays, however empty the namespace.
func TestSomeoneElsesDirectorySecretIsNeverDeleted(t *testing.T) {
	users := newUserHarness(t)
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: jack.UserDirectorySecretName, Namespace: users.ns}}
	if err := k8s.Create(context.Background(), theirs); err != nil {
		t.Fatal(err)
	}
	users.reconcile()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(theirs), &corev1.Secret{}); err != nil {
		t.Fatalf("a Secret named like the directory that the operator did not make is gone: %v", err)
	}
}

// operatorObjects names, as Kind/name, what the operator made in ns: every
// Secret and ConfigMap but the user's own and the API server's, and the
// sidecars' Role and RoleBinding.
func operatorObjects(t *testing.T, ns string, usersOwn []string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	var secrets corev1.SecretList
	var configMaps corev1.ConfigMapList
	var roles rbacv1.RoleList
	var bindings rbacv1.RoleBindingList
	for _, l := range []client.ObjectList{&secrets, &configMaps, &roles, &bindings} {
		if err := k8s.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range secrets.Items {
		if !slices.Contains(usersOwn, s.Name) {
			out = append(out, "Secret/"+s.Name)
		}
	}
	for _, c := range configMaps.Items {
		if c.Name != "kube-root-ca.crt" {
			out = append(out, "ConfigMap/"+c.Name)
		}
	}
	for _, r := range roles.Items {
		out = append(out, "Role/"+r.Name)
	}
	for _, b := range bindings.Items {
		out = append(out, "RoleBinding/"+b.Name)
	}
	return out
}
