package main

import (
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
