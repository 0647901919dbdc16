// Package helmtest runs bin/helm (and the other binaries `make tools`
// builds) for tests: test/chart, which checks the chart's renderings,
// install and upgrade, and test/rbac, which runs the operator with the
// chart's RBAC.
package helmtest

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

	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// Root is the repository's root directory.
var Root = func() string {
	r, err := testenv.RepoRoot()
	if err != nil {
		panic(err)
	}
	return r
}()

// ChartDir is the operator's chart.
var ChartDir = filepath.Join(Root, "charts", "jack-operator")

// Tool finds a binary that `make tools` builds, in $KUBEBUILDER_ASSETS or
// bin/, failing the test with what to run when it is missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(Root, "bin")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not in %s: run `make tools` (hack/build-tools.sh) to build it from source", name, dir)
	}
	return p
}

// Run runs a command in the repository's root with env added to the
// environment, and returns its standard output, or an error holding its
// standard error.
func Run(t testing.TB, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = Root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// Env keeps helm's cache, configuration and data out of $HOME.
func Env(t testing.TB) []string {
	t.Helper()
	home := t.TempDir()
	return []string{
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
	}
}

// ValuesFile writes values as a values file (JSON is YAML) and returns
// helm's arguments for it; none for nil.
func ValuesFile(t testing.TB, values map[string]any) []string {
	t.Helper()
	if values == nil {
		return nil
	}
	b, err := json.Marshal(values)
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

// Template runs `helm template` of the chart for a release in a namespace
// with values (nil for the defaults): the objects `helm install` creates,
// without the `helm test` hooks (--skip-tests). The error carries helm's
// message when it refuses the values.
func Template(t testing.TB, release, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	args := append([]string{"template", release, ChartDir, "--namespace", namespace, "--skip-tests"}, ValuesFile(t, values)...)
	out, err := Run(t, Env(t), Tool(t, "helm"), args...)
	if err != nil {
		return nil, err
	}
	objs, err := testenv.Objects([]byte(out))
	if err != nil {
		return nil, fmt.Errorf("helm template: %w", err)
	}
	return objs, nil
}
