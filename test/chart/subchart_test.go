package chart

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The chart as a dependency of an umbrella chart, the way a platform team
// ships it: Helm passes the parent's global values to it (its schema must
// accept them), and the values under jack-operator: reach it.
func TestTheChartWorksAsADependencyOfAnUmbrellaChart(t *testing.T) {
	dir := t.TempDir()
	umbrella := filepath.Join(dir, "platform")
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(umbrella, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Chart.yaml", `apiVersion: v2
name: platform
version: 1.0.0
dependencies:
  - name: jack-operator
    version: "`+chartVersion(t)+`"
    repository: file://`+chartDir+`
`)
	write("values.yaml", `global:
  imageRegistry: registry.example.com
  imagePullSecrets: [{name: platform-pull}]
  team: shop
jack-operator:
  replicaCount: 3
  commonLabels:
    team: shop
  sidecar:
    imagePullSecrets: [{name: platform-pull}]
  networkPolicy:
    enabled: true
`)
	write("templates/configmap.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-platform
data:
  team: {{ .Values.global.team }}
`)

	// No network: the dependency is a local path, which helm packages into
	// charts/.
	env := helmEnv(t)
	if out, err := run(t, env, tool(t, "helm"), "dependency", "build", umbrella); err != nil {
		t.Fatalf("helm dependency build: %v\n%s", err, out)
	}
	if tgz, _ := filepath.Glob(filepath.Join(umbrella, "charts", "jack-operator-*.tgz")); len(tgz) != 1 {
		t.Fatalf("helm dependency build left %v in charts/, want the packaged jack-operator", tgz)
	}
	if out, err := run(t, env, tool(t, "helm"), "lint", umbrella, "--strict", "--with-subcharts", "--namespace", "platform"); err != nil {
		t.Errorf("helm lint of the umbrella chart: %v\n%s", err, out)
	}
	out, err := run(t, env, tool(t, "helm"), "template", "shop", umbrella, "--namespace", "platform")
	if err != nil {
		t.Fatalf("helm template of the umbrella chart: %v", err)
	}
	objs := parseObjects(t, out)

	find(t, objs, "ConfigMap", "shop-platform")
	dep := find(t, objs, "Deployment", "shop-jack-operator")
	if dep.GetNamespace() != "platform" {
		t.Errorf("the operator is in %q, want the release namespace platform", dep.GetNamespace())
	}
	if got := field(t, dep, "spec", "replicas"); got != float64(3) {
		t.Errorf("replicas = %v: the umbrella's jack-operator.replicaCount did not reach the chart", got)
	}
	if !slices.Contains(containerArgs(t, dep), `--sidecar-image-pull-secrets=platform-pull`) {
		t.Errorf("the umbrella's sidecar.imagePullSecrets did not reach the operator: %v", containerArgs(t, dep))
	}
	// The umbrella's global.imageRegistry is where both images come from.
	if c := field(t, dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any); !strings.HasPrefix(c["image"].(string), "registry.example.com/jack-operator:") {
		t.Errorf("the operator's image is %v, not from the umbrella's global.imageRegistry", c["image"])
	}
	if !slices.ContainsFunc(containerArgs(t, dep), func(a string) bool { return strings.HasPrefix(a, "--sidecar-image=registry.example.com/jack-auth:") }) {
		t.Errorf("the sidecar image is not from the umbrella's global.imageRegistry: %v", containerArgs(t, dep))
	}
	find(t, objs, "NetworkPolicy", "shop-jack-operator")
	for _, o := range objs {
		if o.GetName() == "shop-platform" {
			continue
		}
		if o.GetLabels()["team"] != "shop" {
			t.Errorf("%s %s lacks the umbrella's commonLabels: %v", o.GetKind(), o.GetName(), o.GetLabels())
		}
	}
	// Everything the chart installs on its own, it installs as a dependency.
	alone := render(t, values{"replicaCount": 3})
	if a, b := kinds(alone), kinds(objs); !isSubset(a, b) {
		t.Errorf("alone the chart renders %v, as a dependency %v", a, b)
	}

	// And helm installs the umbrella into a real API server, which accepts
	// every object the dependency brings.
	s := startAPIServer(t)
	s.helm(t, nil, "install", "shop", umbrella, "--namespace", "platform", "--create-namespace")
	for _, o := range objs {
		if o.GetAnnotations()["helm.sh/hook"] != "" {
			continue // helm test's, made by helm test
		}
		if o.GetName() == "shop-platform" {
			o.SetNamespace("platform") // the umbrella's own, as helm places it
		}
		if _, err := s.get(t, o); err != nil {
			t.Errorf("%s %s/%s after helm install of the umbrella: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	live, err := s.get(t, dep)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(t, live, "spec", "replicas"); got != int64(3) && got != float64(3) {
		t.Errorf("the installed Deployment has %v replicas, want the umbrella's 3", got)
	}
}

// Helm passes global to a chart installed on its own too, when a user sets
// it; the schema, which refuses unknown keys, must accept it.
func TestGlobalValuesAreAccepted(t *testing.T) {
	if _, err := renderErr(t, release, namespace, values{"global": values{"imageRegistry": "registry.example.com", "anything": values{"nested": true}}}); err != nil {
		t.Errorf("global values refused: %v", err)
	}
}

func chartVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "version:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	t.Fatal("Chart.yaml has no version")
	return ""
}

func kinds(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if !slices.Contains(out, o.GetKind()) {
			out = append(out, o.GetKind())
		}
	}
	slices.Sort(out)
	return out
}

func isSubset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
