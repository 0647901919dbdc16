package gatewaymanifests

import (
	"github.com/jack-io/jack-operator/api/jack"

	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

const (
	// namespace is where every sample goes: quickstart.yaml's.
	namespace = "jack-demo"
	// sidecarServicePort is the Service port named jack-auth: the sidecar's
	// auth API and /auth.
	sidecarServicePort = 8080
	// jackServicePort is the Service port named http: Jack itself.
	jackServicePort = 80
	// jackContainerPort is where Jack listens in its pod.
	jackContainerPort = 3000
	// authPath is the sidecar's forward-auth endpoint.
	authPath = "/auth"
	// authAPIPrefix is the auth API, which the sidecar answers itself.
	authAPIPrefix = "/api/v1/auth"
	// annotationForwardAuth chooses the sidecar's forward-auth dialect per
	// pod.
	annotationForwardAuth = jack.AnnotationForwardAuth

	// meshValuesFile is the Istio mesh config half of istio.yaml: Helm
	// values, not objects for the API server.
	meshValuesFile = "istio-mesh-values.yaml"
)

// sampleDialects is each sample file and the forward-auth dialect of the
// gateway it configures: the headers the sidecar must read the original
// request from.
var sampleDialects = map[string]string{
	"traefik.yaml":                   "traefik",
	"envoy-gateway.yaml":             "envoy",
	"istio.yaml":                     "envoy",
	"gateway-api-external-auth.yaml": "envoy",
	"ingress-nginx.yaml":             "nginx",
}

// sample is one file of config/samples/gateways.
type sample struct {
	file    string
	dialect string
	objects []*unstructured.Unstructured
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func samplesDir(t *testing.T) string {
	return filepath.Join(repoRoot(t), "config", "samples", "gateways")
}

// loadSamples reads every manifest file of config/samples/gateways; a file
// without a dialect in sampleDialects fails, so a new gateway cannot skip
// these tests.
func loadSamples(t *testing.T) []sample {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir(t), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		if name == meshValuesFile {
			continue
		}
		dialect, ok := sampleDialects[name]
		if !ok {
			t.Fatalf("config/samples/gateways/%s has no entry in sampleDialects: say which forward-auth dialect its gateway speaks", name)
		}
		seen[name] = true
		out = append(out, sample{file: name, dialect: dialect, objects: readObjects(t, f)})
	}
	for name := range sampleDialects {
		if !seen[name] {
			t.Errorf("config/samples/gateways/%s is missing", name)
		}
	}
	return out
}

func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := testenv.Objects(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s has no objects", path)
	}
	return objs
}

func (s sample) find(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range s.objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("%s has no %s %q", s.file, kind, name)
	return nil
}

func (s sample) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range s.objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// get walks a decoded object along keys and list indexes ("0", "1", ...).
func get(v any, path ...string) (any, bool) {
	for _, p := range path {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[p]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func str(v any, path ...string) string {
	s, _ := get(v, path...)
	out, _ := s.(string)
	return out
}

func num(v any, path ...string) int64 {
	n, _ := get(v, path...)
	switch n := n.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return -1
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...)
	out, _ := l.([]any)
	return out
}

func stringList(v any, path ...string) []string {
	var out []string
	for _, e := range list(v, path...) {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// sameHeaders reports whether two lists name the same headers, as HTTP
// compares names: without case.
func sameHeaders(a, b []string) bool {
	fold := func(l []string) []string {
		out := make([]string, len(l))
		for i, h := range l {
			out[i] = strings.ToLower(h)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(fold(a), fold(b))
}

// missingHeaders lists the headers of want that no name or pattern of got
// matches (without case; a trailing * is a prefix, as Istio writes them).
func missingHeaders(got, want []string) []string {
	var missing []string
	for _, w := range want {
		found := false
		for _, g := range got {
			g = strings.ToLower(g)
			if p, ok := strings.CutSuffix(g, "*"); ok && strings.HasPrefix(strings.ToLower(w), p) || g == strings.ToLower(w) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing
}
