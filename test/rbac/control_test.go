package rbac

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// negativeControl takes rolebindings away from the running operator's
// ClusterRole and gives it a reason to create one: the 403 is recorded,
// and logged, so the checks above would have failed. Then the rule is put
// back and the operator recovers.
func (s *scenario) negativeControl(t *testing.T) {
	ctx := context.Background()
	forbiddenBefore, logsBefore := s.op.forbidden.count(), operatorLogs.Len()
	cr := &rbacv1.ClusterRole{}
	if err := s.c.Get(ctx, client.ObjectKey{Name: s.in.clusterRole}, cr); err != nil {
		t.Fatal(err)
	}
	original := cr.DeepCopy()
	var rules []rbacv1.PolicyRule
	for _, r := range cr.Rules {
		r.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(res string) bool { return res == "rolebindings" })
		if len(r.Resources) > 0 {
			rules = append(rules, r)
		}
	}
	if len(rules) == len(cr.Rules) && equality.Semantic.DeepEqual(rules, cr.Rules) {
		t.Fatalf("ClusterRole %s grants no rolebindings to take away: %v", cr.Name, cr.Rules)
	}
	cr.Rules = rules
	if err := s.c.Update(ctx, cr); err != nil {
		t.Fatal(err)
	}
	// The API server's authorizer learns of the change through its own
	// watch: wait until it refuses, so the operator meets the new rules.
	poll.Until(t, timeout, "the API server to refuse the operator rolebindings", func() error {
		return s.in.mayNot(ctx, "create", rbacv1.GroupName, "rolebindings", "audit")
	})
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		cr := &rbacv1.ClusterRole{}
		if err := s.c.Get(ctx, client.ObjectKeyFromObject(original), cr); err != nil {
			t.Fatal(err)
		}
		cr.Rules = original.Rules
		if err := s.c.Update(ctx, cr); err != nil {
			t.Fatal(err)
		}
	}
	defer restore()

	// A new namespace with a SigningKey needs the sidecars' RoleBinding.
	s.create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "audit"}})
	s.create(t, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: "audit"}})
	poll.Until(t, timeout, "a 403 for the RoleBinding recorded", func() error {
		for _, f := range s.op.forbidden.since(forbiddenBefore) {
			if strings.Contains(f, "/namespaces/audit/rolebindings") {
				return nil
			}
		}
		return fmt.Errorf("recorded: %v", s.op.forbidden.since(forbiddenBefore))
	})
	poll.Until(t, timeout, "the refusal logged", func() error {
		for _, l := range forbiddenLogLines(logsBefore) {
			if strings.Contains(l, "rolebindings") {
				return nil
			}
		}
		return errors.New("not yet")
	})

	restore()
	poll.Until(t, timeout, "the RoleBinding made once the rule is back", func() error {
		return s.c.Get(ctx, client.ObjectKey{Namespace: "audit", Name: jack.SidecarRoleName}, &rbacv1.RoleBinding{})
	})
}
