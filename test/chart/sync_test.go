package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/jack-io/jack-operator/api/jack"
)

const regenerate = "run `make manifests` (controller-gen, then hack/chartgen) and commit the result"

func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	bases, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	copies, _ := filepath.Glob(filepath.Join(chartDir, "files", "crds", "*.yaml"))
	if len(bases) == 0 {
		t.Fatal("no CRDs in config/crd/bases")
	}
	if len(bases) != len(copies) {
		t.Fatalf("config/crd/bases has %d CRDs, the chart %d: %s", len(bases), len(copies), regenerate)
	}
	for _, b := range bases {
		want, _ := os.ReadFile(b)
		got, err := os.ReadFile(filepath.Join(chartDir, "files", "crds", filepath.Base(b)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the chart's copy of %s differs: %s", filepath.Base(b), regenerate)
		}
	}
}

// The chart grants exactly what the markers ask for: every generated rule
// is in the ClusterRole or the leader election Role, and nothing else is,
// but the core Events leader election records.
func TestChartRBACIsTheGeneratedRBAC(t *testing.T) {
	objs := render(t, nil)
	cluster := rules(t, find(t, objs, "ClusterRole", "jack-operator"))
	leader := rules(t, find(t, objs, "Role", "jack-operator-leader-election"))

	var generated []rbacv1.PolicyRule
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---") {
		var role struct {
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatal(err)
		}
		generated = append(generated, role.Rules...)
	}
	events := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}}
	granted := append(slices.Clone(cluster), leader...)
	want := append(slices.Clone(generated), events)
	if a, b := ruleSet(granted), ruleSet(want); !reflect.DeepEqual(a, b) {
		t.Errorf("the chart grants\n%s\nconfig/rbac/role.yaml (plus leader election's events) asks for\n%s\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"), regenerate)
	}
	for _, r := range cluster {
		if slices.Contains(r.Resources, "leases") {
			t.Errorf("the ClusterRole grants Leases in every namespace; leader election needs them only in the release namespace")
		}
		for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			if slices.Contains(list, "*") {
				t.Errorf("the ClusterRole has a wildcard: %v", r)
			}
		}
	}
	for _, r := range leader {
		if !slices.Equal(r.Resources, []string{"leases"}) && !slices.Equal(r.Resources, []string{"events"}) && !slices.Equal(r.Resources, []string{"secrets"}) {
			t.Errorf("the leader election Role grants more than Leases, the webhook certificate Secret and Events: %v", r)
		}
	}
}

// The webhooks the chart serves are the generated ones, and its default
// selectors are the labels the operator defines.
func TestChartWebhooksAreTheGeneratedOnes(t *testing.T) {
	objs := render(t, nil)
	var want []string
	for _, f := range []string{"manifests.yaml", "pod-injection.yaml"} {
		for _, o := range readObjects(t, filepath.Join(root, "config", "webhook", f)) {
			for _, h := range webhooks(t, o) {
				want = append(want, o.GetKind()+" "+h["name"].(string)+" "+asYAML(h["rules"])+path(h))
			}
		}
	}
	var got []string
	for _, o := range webhookConfigs(t, objs) {
		for _, h := range webhooks(t, o) {
			got = append(got, o.GetKind()+" "+h["name"].(string)+" "+asYAML(h["rules"])+path(h))
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the chart's webhooks\n%s\ndiffer from config/webhook's\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), regenerate)
	}

	inj := injectionWebhook(t, objs)
	nsLabels := inj["namespaceSelector"].(map[string]any)["matchLabels"]
	podLabels := inj["objectSelector"].(map[string]any)["matchLabels"]
	if !reflect.DeepEqual(nsLabels, map[string]any{jack.LabelInjection: jack.InjectionEnabled}) ||
		!reflect.DeepEqual(podLabels, map[string]any{jack.LabelInject: jack.InjectRequested}) {
		t.Errorf("default selectors %v and %v are not api/jack's %s=%s and %s=%s", nsLabels, podLabels,
			jack.LabelInjection, jack.InjectionEnabled, jack.LabelInject, jack.InjectRequested)
	}
}

// config/default builds, with kustomize, the objects the chart renders
// with its default values, but for the labels and annotations only Helm
// adds and the Namespace only kustomize does.
func TestKustomizeBuildsWhatTheChartRenders(t *testing.T) {
	out, err := run(t, nil, tool(t, "kubectl"), "kustomize", filepath.Join(root, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	kust := map[string]*unstructured.Unstructured{}
	for _, o := range parseObjects(t, out) {
		if o.GetKind() == "Namespace" {
			continue
		}
		kust[key(o)] = o
	}
	chart := map[string]*unstructured.Unstructured{}
	for _, o := range render(t, nil) {
		withoutHelmMetadata(o)
		chart[key(o)] = o
	}
	for k, c := range chart {
		k8s, ok := kust[k]
		if !ok {
			t.Errorf("the chart renders %s, kustomize does not build it (a CRD missing from config/crd/kustomization.yaml?)", k)
			continue
		}
		if !reflect.DeepEqual(c.Object, k8s.Object) {
			t.Errorf("%s differs.\nchart:\n%s\nkustomize:\n%s", k, asYAML(c.Object), asYAML(k8s.Object))
		}
	}
	for k := range kust {
		if _, ok := chart[k]; !ok {
			t.Errorf("kustomize builds %s, the chart does not render it", k)
		}
	}
}

func withoutHelmMetadata(o *unstructured.Unstructured) {
	clean := func(m map[string]any, field string, keys ...string) {
		md, _ := m[field].(map[string]any)
		for _, k := range keys {
			delete(md, k)
		}
		if len(md) == 0 {
			delete(m, field)
		}
	}
	helmLabels := []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"}
	meta := o.Object["metadata"].(map[string]any)
	clean(meta, "labels", helmLabels...)
	clean(meta, "annotations", "helm.sh/resource-policy")
	if tmpl, ok, _ := unstructured.NestedMap(o.Object, "spec", "template", "metadata"); ok {
		clean(tmpl, "labels", helmLabels...)
		_ = unstructured.SetNestedMap(o.Object, tmpl, "spec", "template", "metadata")
	}
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

func path(h map[string]any) string {
	return " " + h["clientConfig"].(map[string]any)["service"].(map[string]any)["path"].(string)
}

func rules(t *testing.T, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var r rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
		t.Fatal(err)
	}
	return r.Rules
}

// ruleSet lists every (group, resource, verb) a set of rules grants, so
// rules split or merged differently compare equal.
func ruleSet(rules []rbacv1.PolicyRule) []string {
	set := map[string]bool{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					set[g+"/"+res+" "+v+" "+strings.Join(r.ResourceNames, ",")] = true
				}
			}
		}
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				set[u+" "+v] = true
			}
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readObjects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return parseObjects(t, string(b))
}
