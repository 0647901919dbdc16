package gatewaymanifests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// crdProjects are the folders of bin/gateway-crds holding CRDs to install.
var crdProjects = []string{"traefik", "gateway-api", "envoy-gateway", "istio"}

// requireGateways makes a missing bin/gateway-crds a failure instead of a
// skip, for CI that ran hack/gateway-crds.sh.
const requireGateways = "JACK_REQUIRE_GATEWAYS"

// gatewayCRDs is bin/gateway-crds, or skips the test when
// hack/gateway-crds.sh has not filled it.
func gatewayCRDs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "bin", "gateway-crds")
	var missing []string
	for _, p := range append(slices.Clone(crdProjects), "ingress-nginx") {
		if _, err := os.Stat(filepath.Join(dir, p, ".source")); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s lacks %v: run `make test-gateway-manifests` (hack/gateway-crds.sh copies them from each project's Go module)", dir, missing)
		if os.Getenv(requireGateways) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

var (
	envOnce  sync.Once
	env      *testenv.Env
	envErr   error
	envStart time.Duration
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		_ = env.Stop()
	}
	os.Exit(code)
}

// apiServer is one kube-apiserver for the package, with the project's CRDs
// (testenv) and every gateway's installed.
func apiServer(t *testing.T) *testenv.Env {
	t.Helper()
	dir := gatewayCRDs(t)
	envOnce.Do(func() {
		start := time.Now()
		env, envErr = testenv.Start(testenv.Scheme())
		if envErr != nil {
			return
		}
		var paths []string
		for _, p := range crdProjects {
			paths = append(paths, filepath.Join(dir, p))
		}
		_, envErr = envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true})
		if envErr != nil {
			envErr = fmt.Errorf("installing the gateways' CRDs from %s: %w", dir, envErr)
		}
		envStart = time.Since(start)
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	t.Logf("API server with every gateway's CRDs ready in %s", envStart.Round(time.Millisecond))
	return env
}

const fieldOwner = "jack-gateway-samples"

// strictApply server-side applies o, as `kubectl apply --server-side
// --validate=strict` does: an unknown or duplicate field is an error, not a
// warning and a silently pruned field.
func strictApply(ctx context.Context, c client.Client, o *unstructured.Unstructured, opts ...client.ApplyOption) error {
	strict := client.WithFieldValidation(c, metav1.FieldValidationStrict)
	opts = append([]client.ApplyOption{client.FieldOwner(fieldOwner), client.ForceOwnership}, opts...)
	return strict.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...)
}

// Every document of every sample is accepted by a real API server with
// the gateways' own CRDs, after quickstart.yaml as the samples say.
func TestSamplesApplyWithStrictFieldValidation(t *testing.T) {
	e := apiServer(t)
	ctx := context.Background()
	for _, o := range readObjects(t, filepath.Join(repoRoot(t), "config", "samples", "quickstart.yaml")) {
		if err := strictApply(ctx, e.Client, o); err != nil {
			t.Fatalf("quickstart.yaml: %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	for _, s := range loadSamples(t) {
		t.Run(s.file, func(t *testing.T) {
			for _, o := range s.objects {
				if err := strictApply(ctx, e.Client, o); err != nil {
					t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
					continue
				}
				live := &unstructured.Unstructured{}
				live.SetGroupVersionKind(o.GroupVersionKind())
				if err := e.Client.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
					t.Errorf("%s %s was not stored: %v", o.GetKind(), o.GetName(), err)
				}
			}
			// The samples share names (Deployment jack, Service jack):
			// start the next one from nothing.
			for _, o := range s.objects {
				if err := e.Client.Delete(ctx, o.DeepCopy()); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("deleting %s %s: %v", o.GetKind(), o.GetName(), err)
				}
			}
		})
	}
}

// misspelling is a negative control: one sample object with one field
// misspelled or one value no schema allows, which the API server must
// refuse with an error naming it.
type misspelling struct {
	file, kind, name string
	path             []string // to the key to rename, or the value to set
	rename           string   // the misspelled key
	value            any      // else the value to set
	named            string   // what the refusal must name
}

var misspellings = []misspelling{
	{file: "traefik.yaml", kind: "Middleware", name: "jack-forward-auth", path: p("spec.forwardAuth.authResponseHeaders"), rename: "authResponseHeader"},
	{file: "traefik.yaml", kind: "Middleware", name: "jack-forward-auth", path: p("spec.forwardAuth.trustForwardHeader"), value: "false", named: "trustForwardHeader"},
	{file: "traefik.yaml", kind: "IngressRoute", name: "jack", path: p("spec.routes.1.middlewares"), rename: "middleware"},
	{file: "traefik.yaml", kind: "Deployment", name: "jack", path: p("spec.template.spec.containers.0.ports"), rename: "port"},
	{file: "traefik.yaml", kind: "Service", name: "jack", path: p("spec.ports.1.targetPort"), rename: "targetport"},
	{file: "traefik.yaml", kind: "NetworkPolicy", name: "jack-only-through-traefik", path: p("spec.ingress.0.from"), rename: "form"},
	{file: "envoy-gateway.yaml", kind: "SecurityPolicy", name: "jack-forward-auth", path: p("spec.extAuth"), rename: "extAuthz"},
	{file: "envoy-gateway.yaml", kind: "SecurityPolicy", name: "jack-forward-auth", path: p("spec.extAuth.http.headersToBackend"), rename: "headerToBackend"},
	{file: "envoy-gateway.yaml", kind: "HTTPRoute", name: "jack", path: p("spec.rules.0.backendRefs"), rename: "backendRef"},
	{file: "envoy-gateway.yaml", kind: "Gateway", name: "jack", path: p("spec.listeners.0.protocol"), rename: "protocl"},
	{file: "gateway-api-external-auth.yaml", kind: "HTTPRoute", name: "jack", path: p("spec.rules.1.filters.0.externalAuth.http.allowedResponseHeaders"), rename: "allowedResponseHeader"},
	{file: "gateway-api-external-auth.yaml", kind: "HTTPRoute", name: "jack", path: p("spec.rules.1.filters.0.externalAuth.protocol"), value: "Http", named: "protocol"},
	{file: "istio.yaml", kind: "AuthorizationPolicy", name: "jack-forward-auth", path: p("spec.provider"), rename: "providers"},
	{file: "istio.yaml", kind: "AuthorizationPolicy", name: "jack-forward-auth", path: p("spec.action"), value: "Custom", named: "action"},
	{file: "istio.yaml", kind: "PeerAuthentication", name: "jack", path: p("spec.mtls.mode"), rename: "mdoe"},
	{file: "istio.yaml", kind: "Gateway", name: "jack", path: p("spec.servers.0.hosts"), rename: "host"},
	{file: "istio.yaml", kind: "VirtualService", name: "jack", path: p("spec.http.0.route"), rename: "routes"},
	{file: "ingress-nginx.yaml", kind: "Ingress", name: "jack", path: p("spec.rules.0.http.paths.0.pathType"), rename: "pathtype"},
}

func p(dotted string) []string { return strings.Split(dotted, ".") }

// The controls: for every kind the samples use, a misspelled field is
// refused, so the test above can fail.
func TestMisspelledFieldsAreRefused(t *testing.T) {
	e := apiServer(t)
	ctx := context.Background()
	samples := map[string]sample{}
	for _, s := range loadSamples(t) {
		samples[s.file] = s
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(namespace)
	if err := strictApply(ctx, e.Client, ns); err != nil {
		t.Fatal(err)
	}

	covered := map[string]bool{}
	for _, m := range misspellings {
		s := samples[m.file]
		o := s.find(t, m.kind, m.name)
		covered[o.GroupVersionKind().GroupKind().String()] = true
		t.Run(fmt.Sprintf("%s %s %s", m.kind, m.name, strings.Join(m.path, ".")), func(t *testing.T) {
			// The object as written passes (dry run: nothing is stored), so
			// a refusal below is the misspelling's.
			if err := strictApply(ctx, e.Client, o, client.DryRunAll); err != nil {
				t.Fatalf("the sample itself is refused: %v", err)
			}
			bad := o.DeepCopy()
			named := m.named
			if m.rename != "" {
				named = m.rename
				if err := renameKey(bad.Object, m.path, m.rename); err != nil {
					t.Fatal(err)
				}
			} else if err := setValue(bad.Object, m.path, m.value); err != nil {
				t.Fatal(err)
			}
			err := strictApply(ctx, e.Client, bad, client.DryRunAll)
			if err == nil {
				t.Fatalf("accepted: a typo in a %s goes unnoticed", m.kind)
			}
			if !strings.Contains(err.Error(), named) {
				t.Errorf("refused without naming %q: %v", named, err)
			}
			t.Logf("refused: %v", err)
		})
	}

	var uncovered []string
	for _, s := range samples {
		for _, o := range s.objects {
			if gk := o.GroupVersionKind().GroupKind().String(); !covered[gk] {
				uncovered = append(uncovered, gk)
			}
		}
	}
	sort.Strings(uncovered)
	if uncovered = slices.Compact(uncovered); len(uncovered) > 0 {
		t.Errorf("no negative control for %v: add a misspelling for each kind the samples use", uncovered)
	}
}

func renameKey(obj map[string]any, path []string, to string) error {
	parent, ok := get(obj, path[:len(path)-1]...)
	m, isMap := parent.(map[string]any)
	if !ok || !isMap {
		return fmt.Errorf("the sample has no %s", strings.Join(path, "."))
	}
	key := path[len(path)-1]
	v, ok := m[key]
	if !ok {
		return fmt.Errorf("the sample has no %s", strings.Join(path, "."))
	}
	delete(m, key)
	m[to] = v
	return nil
}

func setValue(obj map[string]any, path []string, value any) error {
	parent, ok := get(obj, path[:len(path)-1]...)
	m, isMap := parent.(map[string]any)
	if !ok || !isMap {
		return fmt.Errorf("the sample has no %s", strings.Join(path, "."))
	}
	if _, ok := m[path[len(path)-1]]; !ok {
		return fmt.Errorf("the sample has no %s", strings.Join(path, "."))
	}
	m[path[len(path)-1]] = value
	return nil
}

// ingress-nginx reads its settings from annotations, which no API server
// checks: each one ingress-nginx.yaml uses is in the annotation reference
// of k8s.io/ingress-nginx (copied by hack/gateway-crds.sh).
func TestIngressNginxAnnotationsAreDocumented(t *testing.T) {
	dir := gatewayCRDs(t)
	doc, err := os.ReadFile(filepath.Join(dir, "ingress-nginx", "annotations.md"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, a := range regexp.MustCompile(`nginx\.ingress\.kubernetes\.io/[a-z0-9-]+`).FindAllString(string(doc), -1) {
		known[a] = true
	}
	unknown := func(o *unstructured.Unstructured) []string {
		var out []string
		for k := range o.GetAnnotations() {
			if strings.HasPrefix(k, "nginx.ingress.kubernetes.io/") && !known[k] {
				out = append(out, k)
			}
		}
		return out
	}
	s := sample{}
	for _, x := range loadSamples(t) {
		if x.file == "ingress-nginx.yaml" {
			s = x
		}
	}
	used := 0
	for _, ing := range s.ofKind("Ingress") {
		used += len(ing.GetAnnotations())
		if u := unknown(ing); len(u) > 0 {
			t.Errorf("Ingress %s: ingress-nginx has no annotation %v", ing.GetName(), u)
		}
	}
	if used == 0 {
		t.Fatal("ingress-nginx.yaml uses no annotations")
	}

	// The control: a misspelled annotation is caught.
	bad := s.find(t, "Ingress", "jack").DeepCopy()
	a := bad.GetAnnotations()
	a["nginx.ingress.kubernetes.io/auth-response-header"] = a["nginx.ingress.kubernetes.io/auth-response-headers"]
	bad.SetAnnotations(a)
	if u := unknown(bad); !slices.Equal(u, []string{"nginx.ingress.kubernetes.io/auth-response-header"}) {
		t.Errorf("a misspelled annotation gave %v, want it alone", u)
	}
}
