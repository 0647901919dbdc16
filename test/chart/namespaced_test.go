package chart

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Namespace-scoped mode (watchNamespaces): the operator is told its
// namespaces; everything it does to namespaced objects is granted by a Role
// in each of them, and the ClusterRole keeps only what is cluster-scoped
// (reading namespaces, the two webhook configurations by name); together
// they grant exactly what the all-namespaces ClusterRole does; both webhook
// configurations send the operator only objects of those namespaces, on
// top of their own selectors. test/rbac runs the operator with this RBAC.
func TestNamespaceScopedModeGrantsRolesInTheWatchedNamespacesOnly(t *testing.T) {
	watched := []string{"shop", "reports"}
	objs := render(t, values{"watchNamespaces": watched})

	if args := containerArgs(t, find(t, objs, "Deployment", "jack-operator")); !slices.Contains(args, "--watch-namespaces=shop,reports") {
		t.Errorf("the operator's arguments lack --watch-namespaces=shop,reports: %v", args)
	}

	cluster := rules(t, find(t, objs, "ClusterRole", "jack-operator"))
	for _, r := range cluster {
		for _, res := range r.Resources {
			if res != "namespaces" && res != "mutatingwebhookconfigurations" && res != "validatingwebhookconfigurations" {
				t.Errorf("the ClusterRole grants %v on %s in every namespace; in namespace-scoped mode only a watched namespace's Role may", r.Verbs, res)
			}
			if res != "namespaces" && len(r.ResourceNames) == 0 {
				t.Errorf("the ClusterRole grants %v on every %s, not only the release's", r.Verbs, res)
			}
		}
		if res := strings.Join(r.Resources, ","); res == "namespaces" && !reflect.DeepEqual(r.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("the ClusterRole grants %v on namespaces, want only reading", r.Verbs)
		}
	}

	var roleRules []rbacv1.PolicyRule
	for _, ns := range watched {
		role := findIn(t, objs, "Role", ns, "jack-operator")
		roleRules = rules(t, role)
		binding := findIn(t, objs, "RoleBinding", ns, "jack-operator")
		if ref := field(t, binding, "roleRef", "name"); ref != "jack-operator" {
			t.Errorf("RoleBinding %s/jack-operator binds %v", ns, ref)
		}
		subjects := field(t, binding, "subjects").([]any)
		want := map[string]any{"kind": "ServiceAccount", "name": "jack-operator", "namespace": namespace}
		if len(subjects) != 1 || !reflect.DeepEqual(subjects[0], want) {
			t.Errorf("RoleBinding %s/jack-operator binds %v, want the operator's ServiceAccount %v", ns, subjects, want)
		}
		if !slices.ContainsFunc(roleRules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "secrets") }) {
			t.Errorf("the Role in %s grants no Secrets: %v", ns, roleRules)
		}
	}
	for _, o := range ofKind(objs, "Role") {
		if o.GetName() == "jack-operator" && !slices.Contains(watched, o.GetNamespace()) {
			t.Errorf("a Role jack-operator in namespace %s, which is not watched", o.GetNamespace())
		}
	}

	allNamespaces := rules(t, find(t, render(t, nil), "ClusterRole", "jack-operator"))
	if got, want := ruleSet(append(slices.Clone(cluster), roleRules...)), ruleSet(allNamespaces); !reflect.DeepEqual(got, want) {
		t.Errorf("the ClusterRole and a watched namespace's Role grant\n%s\nthe all-namespaces ClusterRole\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), regenerate)
	}

	for _, cfg := range webhookConfigs(t, objs) {
		for _, h := range webhooks(t, cfg) {
			if in := metadataNameIn(h); !reflect.DeepEqual(in, []any{"shop", "reports"}) {
				t.Errorf("%s %s is called for namespaces %v, want only shop and reports: %s", cfg.GetKind(), h["name"], in, asYAML(h["namespaceSelector"]))
			}
		}
	}
	inj := injectionWebhook(t, objs)
	if labels := inj["namespaceSelector"].(map[string]any)["matchLabels"]; labels == nil || len(notIn(t, inj)) == 0 {
		t.Errorf("the injection webhook lost its own selector in namespace-scoped mode: %s", asYAML(inj["namespaceSelector"]))
	}

	for _, to := range []string{"view", "edit", "admin"} {
		find(t, objs, "ClusterRole", "jack-operator-"+to)
	}
}

// Without watchNamespaces, the operator watches every namespace: no
// --watch-namespaces, no Roles of the operator but leader election's, no
// namespace restriction on the webhooks.
func TestEveryNamespaceIsTheDefault(t *testing.T) {
	objs := render(t, nil)
	for _, a := range containerArgs(t, find(t, objs, "Deployment", "jack-operator")) {
		if strings.HasPrefix(a, "--watch-namespaces") {
			t.Errorf("the operator is given %s by default", a)
		}
	}
	for _, o := range ofKind(objs, "Role") {
		if o.GetName() != "jack-operator-leader-election" {
			t.Errorf("Role %s/%s rendered by default", o.GetNamespace(), o.GetName())
		}
	}
	for _, cfg := range webhookConfigs(t, objs) {
		for _, h := range webhooks(t, cfg) {
			if in := metadataNameIn(h); in != nil {
				t.Errorf("%s %s is limited to namespaces %v by default", cfg.GetKind(), h["name"], in)
			}
		}
	}
	if _, err := renderErr(t, release, namespace, values{"watchNamespaces": []string{"Shop_1"}}); err == nil || !strings.Contains(err.Error(), "watchNamespaces") {
		t.Errorf("watchNamespaces [Shop_1] (not a namespace name): err = %v, want the schema's refusal naming watchNamespaces", err)
	}
}

// findIn returns the one object of a kind, namespace and name.
func findIn(t *testing.T, objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s among the rendered objects: %s", kind, ns, name, names(objs))
	return nil
}

// metadataNameIn is the namespace names a webhook's namespaceSelector
// limits it to, nil for none.
func metadataNameIn(hook map[string]any) []any {
	ns, _ := hook["namespaceSelector"].(map[string]any)
	exprs, _ := ns["matchExpressions"].([]any)
	for _, e := range exprs {
		e := e.(map[string]any)
		if e["key"] == "kubernetes.io/metadata.name" && e["operator"] == "In" {
			return e["values"].([]any)
		}
	}
	return nil
}
