package chart

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

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

var root = func() string {
	r, err := testenv.RepoRoot()
	if err != nil {
		panic(err)
	}
	return r
}()

var chartDir = filepath.Join(root, "charts", "jack-operator")

// tool finds a binary that `make tools` builds, failing the test with what
// to run when it is missing.
func tool(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(root, "bin")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not in %s: run `make tools` (hack/build-tools.sh) to build it from source", name, dir)
	}
	return p
}

// run runs a command and returns its standard output, or an error holding
// its standard error.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// helmEnv keeps helm's cache, configuration and data out of $HOME.
func helmEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	return []string{
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
	}
}

// valuesFile writes v as a values file (JSON is YAML) and returns helm's
// arguments for it; none for nil.
func valuesFile(t *testing.T, v values) []string {
	t.Helper()
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its name comes from the test's, and helm splits
	// --values at commas.
	dir, err := os.MkdirTemp("", "chart-values")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--values", p}
}

// renderErr runs helm template for a release; the error carries helm's
// message when it refuses the values.
func renderErr(t *testing.T, rel, ns string, v values) ([]*unstructured.Unstructured, error) {
	t.Helper()
	args := append([]string{"template", rel, chartDir, "--namespace", ns}, valuesFile(t, v)...)
	out, err := run(t, helmEnv(t), tool(t, "helm"), args...)
	if err != nil {
		return nil, err
	}
	return parseObjects(t, out), nil
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
