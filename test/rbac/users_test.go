package rbac

import (
	"context"
	"fmt"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// What a namespace's users may do with the jack resources, through
// Kubernetes' default view, edit and admin ClusterRoles, which the chart's
// aggregated ClusterRoles extend (issue 15). The API server creates the
// default roles with their aggregationRule, but the controller that fills
// them in (kube-controller-manager's clusterrole-aggregation) does not run
// beside envtest: aggregate does its work, with the same selectors, once
// the chart is installed. Then people bound to each role in namespace shop
// act, impersonated, with real requests.
func TestNamespaceUsersGetTheJackResourcesWithTheDefaultRoles(t *testing.T) {
	in := installChart(t, nil)
	ctx := context.Background()
	// No operator runs here: admission would call a webhook server that is
	// not there.
	for _, o := range []client.Object{
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: chartRelease + "-validating"}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: chartRelease + "-pod-injection"}},
	} {
		if err := in.admin.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, role := range []string{"view", "edit", "admin"} {
		aggregate(t, in.admin, role)
	}
	for _, ns := range []string{shopNS, reportsNS} {
		if err := in.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		if err := in.admin.Create(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
		if err := in.admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: jack.UserDirectorySecretName, Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	viewer, editor, admin := in.boundTo(t, "vera", "view"), in.boundTo(t, "eddie", "edit"), in.boundTo(t, "ada", "admin")

	user := func(name, ns string) *authv1alpha1.JackUser {
		return &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: authv1alpha1.JackUserSpec{
			Email: name + "@example.com", Name: name, Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: name + "-password"}}}
	}
	revocation := func(ns string) *authv1alpha1.TokenRevocation {
		return &authv1alpha1.TokenRevocation{ObjectMeta: metav1.ObjectMeta{Name: jack.RevocationName("t-" + ns), Namespace: ns},
			Spec: authv1alpha1.TokenRevocationSpec{SigningKey: "jack", TokenID: "t-" + ns, UserID: "u", ExpiresAt: metav1.NewTime(time.Now().Add(time.Hour))}}
	}
	if err := in.admin.Create(ctx, revocation(shopNS)); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: shopNS, Name: "jack"}

	// An editor manages JackUsers in shop, and only there.
	must(t, "edit: create a JackUser in shop", editor.Create(ctx, user("bo", shopNS)))
	bo := &authv1alpha1.JackUser{}
	must(t, "edit: read it", editor.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: "bo"}, bo))
	bo.Spec.Role = jack.RoleManager
	must(t, "edit: update it", editor.Update(ctx, bo))
	must(t, "edit: list SigningKeys in shop", editor.List(ctx, &authv1alpha1.SigningKeyList{}, client.InNamespace(shopNS)))
	must(t, "edit: list TokenRevocations in shop", editor.List(ctx, &authv1alpha1.TokenRevocationList{}, client.InNamespace(shopNS)))
	forbidden(t, "edit: create a JackUser in reports", editor.Create(ctx, user("bo", reportsNS)))
	forbidden(t, "edit: list JackUsers in reports", editor.List(ctx, &authv1alpha1.JackUserList{}, client.InNamespace(reportsNS)))
	forbidden(t, "edit: create a SigningKey", editor.Create(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: shopNS}}))
	forbidden(t, "edit: rotate the SigningKey", editor.Patch(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: shopNS}},
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"`+jack.AnnotationRotate+`":"now"}}}`))))
	forbidden(t, "edit: delete a TokenRevocation (reviving a logged-out token)", editor.Delete(ctx, revocation(shopNS)))
	// Kubernetes' own edit reads every Secret of the namespace: the user
	// directory's hashes too (docs/install.md says so).
	must(t, "edit: read the user directory Secret", editor.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: jack.UserDirectorySecretName}, &corev1.Secret{}))
	forbidden(t, "edit: read the user directory Secret of reports", editor.Get(ctx, client.ObjectKey{Namespace: reportsNS, Name: jack.UserDirectorySecretName}, &corev1.Secret{}))
	must(t, "edit: delete the JackUser", editor.Delete(ctx, bo))

	// A viewer reads, and writes nothing, not even Secrets' data.
	must(t, "view: list JackUsers", viewer.List(ctx, &authv1alpha1.JackUserList{}, client.InNamespace(shopNS)))
	must(t, "view: read the SigningKey", viewer.Get(ctx, key, &authv1alpha1.SigningKey{}))
	forbidden(t, "view: create a JackUser", viewer.Create(ctx, user("cy", shopNS)))
	forbidden(t, "view: read the user directory Secret", viewer.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: jack.UserDirectorySecretName}, &corev1.Secret{}))

	// An admin also keeps the namespace's keys and revocations.
	must(t, "admin: create a SigningKey", admin.Create(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "partner", Namespace: shopNS}}))
	must(t, "admin: delete a TokenRevocation", admin.Delete(ctx, revocation(shopNS)))
	forbidden(t, "admin: create a SigningKey in reports", admin.Create(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "partner", Namespace: reportsNS}}))
}

// aggregate does what kube-controller-manager's clusterrole-aggregation
// controller does for one ClusterRole: its rules become those of every
// ClusterRole its aggregationRule selects.
func aggregate(t *testing.T, c client.Client, name string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{}
	poll.Until(t, timeout, "the API server's default ClusterRole "+name, func() error {
		return c.Get(ctx, client.ObjectKey{Name: name}, role)
	})
	if role.AggregationRule == nil {
		t.Fatalf("ClusterRole %s has no aggregationRule", name)
	}
	var rules []rbacv1.PolicyRule
	for _, sel := range role.AggregationRule.ClusterRoleSelectors {
		selector, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			t.Fatal(err)
		}
		var list rbacv1.ClusterRoleList
		if err := c.List(ctx, &list, client.MatchingLabelsSelector{Selector: selector}); err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Items {
			if r.Name != name {
				rules = append(rules, r.Rules...)
			}
		}
	}
	role.Rules = rules
	if err := c.Update(ctx, role); err != nil {
		t.Fatal(err)
	}
}

// boundTo binds a person to a default ClusterRole in namespace shop and
// returns a client that acts as them.
func (in *chartInstall) boundTo(t *testing.T, person, role string) client.Client {
	t.Helper()
	ctx := context.Background()
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: person + "-" + role, Namespace: shopNS},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: person}}}
	if err := in.admin.Create(ctx, rb); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(in.adminConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: person, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	// The authorizer learns of the binding through its watch.
	poll.Until(t, timeout, person+"'s binding to "+role+" in effect", func() error {
		return c.List(ctx, &authv1alpha1.JackUserList{}, client.InNamespace(shopNS))
	})
	return c
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func forbidden(t *testing.T, what string, err error) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: want Forbidden, got %v", what, fmt.Sprint(err))
	}
}
