package chart

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/jack-io/jack-operator/internal/testsupport/helmtest"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// The release every test renders unless it says otherwise: the names the
// kustomize install uses.
const (
	release   = "jack-operator"
	namespace = "jack-system"
)

// values are chart values, as a test writes them.
type values = map[string]any

var root = helmtest.Root

var chartDir = helmtest.ChartDir

// The helpers every test here uses, from internal/testsupport/helmtest.
var (
	tool       = helmtest.Tool
	run        = helmtest.Run
	helmEnv    = helmtest.Env
	valuesFile = helmtest.ValuesFile
)

// optionalAPIs are the APIs of the cert-manager and Prometheus Operator
// objects the chart renders only where the cluster serves them; render and
// renderErr announce them, as a cluster with both installed would.
var optionalAPIs = []string{"--api-versions", "cert-manager.io/v1", "--api-versions", "monitoring.coreos.com/v1"}

// renderErr runs helm template for a release in a cluster that serves
// optionalAPIs: the objects helm install creates, without the helm test
// hooks (renderArgs renders those too). The error carries helm's message
// when it refuses the values.
func renderErr(t testing.TB, release, namespace string, v values) ([]*unstructured.Unstructured, error) {
	t.Helper()
	return renderArgs(t, release, namespace, v, append([]string{"--skip-tests"}, optionalAPIs...)...)
}

// renderArgs runs helm template of the chart with more arguments, such as
// --api-versions.
func renderArgs(t testing.TB, release, namespace string, v values, extra ...string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	args := append([]string{"template", release, chartDir, "--namespace", namespace}, valuesFile(t, v)...)
	out, err := run(t, helmEnv(t), tool(t, "helm"), append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	objs, err := testenv.Objects([]byte(out))
	if err != nil {
		return nil, fmt.Errorf("helm template: %w", err)
	}
	return objs, nil
}

// render renders the chart as release jack-operator in jack-system.
func render(t *testing.T, v values) []*unstructured.Unstructured {
	t.Helper()
	objs, err := renderErr(t, release, namespace, v)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func parseObjects(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.Objects([]byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// find returns the one object of a kind and name, failing the test when it
// is missing.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	if o := lookup(objs, kind, name); o != nil {
		return o
	}
	t.Fatalf("no %s %q among the rendered objects: %s", kind, name, names(objs))
	return nil
}

func lookup(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func names(objs []*unstructured.Unstructured) string {
	var s []string
	for _, o := range objs {
		s = append(s, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(s, ", ")
}

// field reads a nested field, failing the test when it is absent.
func field(t *testing.T, o *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s %s has no %s", o.GetKind(), o.GetName(), strings.Join(path, "."))
	}
	return v
}

// asYAML prints anything for a failure message.
func asYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
