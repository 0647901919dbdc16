package main

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestLeaderElectionRulesAreSplitOffAndMixedOnesRefused(t *testing.T) {
	cases := map[string]struct {
		rule       rbacv1.PolicyRule
		namespaced bool
		refused    string
	}{
		"a Lease rule moves to the leader election Role": {
			rule:       rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "update"}},
			namespaced: true,
		},
		"a Secret rule stays cluster-wide": {
			rule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
		},
		"Leases merged with another group's resources are refused": {
			rule:    rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io", ""}, Resources: []string{"leases", "configmaps"}, Verbs: []string{"get"}},
			refused: "put leases in a rule of their own",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ns, err := onlyInOwnNamespace(c.rule)
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("error %v, want one saying %q", err, c.refused)
				}
				return
			}
			if err != nil || ns != c.namespaced {
				t.Errorf("namespaced = %v, %v; want %v", ns, err, c.namespaced)
			}
		})
	}
}

func TestWildcardsAreRefused(t *testing.T) {
	for name, r := range map[string]rbacv1.PolicyRule{
		"every verb":     {APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"*"}},
		"every resource": {APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"get"}},
		"every group":    {APIGroups: []string{"*"}, Resources: []string{"pods"}, Verbs: []string{"get"}},
	} {
		if err := noWildcard(r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := noWildcard(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}); err != nil {
		t.Errorf("a named rule refused: %v", err)
	}
}

func TestWebhooksKeepOnlyThePathOfTheirService(t *testing.T) {
	h := map[string]any{"name": "x", "clientConfig": map[string]any{"service": map[string]any{"name": "webhook-service", "namespace": "system", "path": "/validate"}}}
	if err := dropServiceRef(h); err != nil {
		t.Fatal(err)
	}
	if got := h["clientConfig"].(map[string]any)["service"]; len(got.(map[string]any)) != 1 || got.(map[string]any)["path"] != "/validate" {
		t.Errorf("service = %v, want only the path", got)
	}
	if err := dropServiceRef(map[string]any{"clientConfig": map[string]any{"url": "https://x"}}); err == nil {
		t.Error("a webhook without a Service path was accepted")
	}
}

func TestNamespaceScopedModeSplitsRulesByTheScopeOfTheirResources(t *testing.T) {
	known := map[string]bool{"/pods": true, "/namespaces": false, "auth.jack.io/jackusers": true, "x.io/widgets": true, "y.io/widgets": false}
	cases := map[string]struct {
		rule              rbacv1.PolicyRule
		namespaced, clust []string
		refused           string
	}{
		"a rule of namespaced resources goes to the Roles": {
			rule:       rbacv1.PolicyRule{APIGroups: []string{"auth.jack.io"}, Resources: []string{"jackusers", "jackusers/status"}, Verbs: []string{"get"}},
			namespaced: []string{"jackusers", "jackusers/status"},
		},
		"a rule mixing namespaces and pods is split by resource": {
			rule:       rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces", "pods"}, Verbs: []string{"get", "list", "watch"}},
			namespaced: []string{"pods"}, clust: []string{"namespaces"},
		},
		"a resource of unknown scope is refused": {
			rule:    rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}},
			refused: "whose scope chartgen does not know",
		},
		"a resource namespaced in one of its rule's groups and not the other is refused": {
			rule:    rbacv1.PolicyRule{APIGroups: []string{"x.io", "y.io"}, Resources: []string{"widgets"}, Verbs: []string{"get"}},
			refused: "split the rule",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ns, cl, err := byScope([]rbacv1.PolicyRule{c.rule}, known)
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("error %v, want one saying %q", err, c.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := resourcesOf(ns); !slices.Equal(got, c.namespaced) {
				t.Errorf("in the Roles: %v, want %v", got, c.namespaced)
			}
			if got := resourcesOf(cl); !slices.Equal(got, c.clust) {
				t.Errorf("in the ClusterRole: %v, want %v", got, c.clust)
			}
			for _, r := range append(ns, cl...) {
				if !slices.Equal(r.Verbs, c.rule.Verbs) {
					t.Errorf("verbs %v, want the rule's %v", r.Verbs, c.rule.Verbs)
				}
			}
		})
	}
}

func resourcesOf(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Resources...)
	}
	return out
}
