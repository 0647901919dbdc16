package chart

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// everything turns on every optional object of the chart.
var everything = values{
	"webhook":        values{"certMode": "cert-manager"},
	"metrics":        values{"serviceMonitor": values{"enabled": true}, "prometheusRule": values{"enabled": true}},
	"networkPolicy":  values{"enabled": true},
	"grafana":        values{"dashboard": values{"enabled": true}},
	"serviceAccount": values{"annotations": values{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/jack"}},
	"podAnnotations": values{"prometheus.io/scrape": "false"},
}

// commonLabels and commonAnnotations reach every object the chart renders,
// the CRDs and the helm test hooks included, and never change what selects
// the operator's pods.
func TestCommonLabelsAndAnnotationsAreOnEveryObject(t *testing.T) {
	v := merged(everything, values{
		"commonLabels":      values{"team": "platform", "cost-center": "42"},
		"commonAnnotations": values{"owner": "platform@example.com"},
	})
	objs, err := renderArgs(t, release, namespace, v, optionalAPIs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		what := o.GetKind() + " " + o.GetName()
		if o.GetLabels()["team"] != "platform" || o.GetLabels()["cost-center"] != "42" {
			t.Errorf("%s lacks the common labels: %v", what, o.GetLabels())
		}
		if o.GetAnnotations()["owner"] != "platform@example.com" {
			t.Errorf("%s lacks the common annotations: %v", what, o.GetAnnotations())
		}
	}
	dep := find(t, objs, "Deployment", "jack-operator")
	tmpl := field(t, dep, "spec", "template", "metadata").(map[string]any)
	if tmpl["labels"].(map[string]any)["team"] != "platform" {
		t.Errorf("the operator's pods lack the common labels: %v", tmpl["labels"])
	}
	if ann := tmpl["annotations"].(map[string]any); ann["owner"] != "platform@example.com" || ann["prometheus.io/scrape"] != "false" {
		t.Errorf("the operator's pods have annotations %v, want the common ones and podAnnotations", ann)
	}
	if sel := field(t, dep, "spec", "selector", "matchLabels").(map[string]any); len(sel) != 2 || sel["team"] != nil {
		t.Errorf("common labels leaked into the Deployment's selector %v, which cannot change on upgrade", sel)
	}
	// An object's own annotations are kept beside the common ones.
	if sa := find(t, objs, "ServiceAccount", "jack-operator"); sa.GetAnnotations()["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("the ServiceAccount lost its own annotations: %v", sa.GetAnnotations())
	}
	for _, cfg := range webhookConfigs(t, objs) {
		if cfg.GetAnnotations()["cert-manager.io/inject-ca-from"] == "" {
			t.Errorf("%s lost cainjector's annotation: %v", cfg.GetName(), cfg.GetAnnotations())
		}
	}
	for _, crd := range ofKind(objs, "CustomResourceDefinition") {
		if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" || crd.GetAnnotations()["controller-gen.kubebuilder.io/version"] == "" {
			t.Errorf("CRD %s lost its own annotations: %v", crd.GetName(), crd.GetAnnotations())
		}
	}
	for _, name := range []string{"app.kubernetes.io/name", "app.kubernetes.io/component", "helm.sh/chart"} {
		if _, err := renderErr(t, release, namespace, values{"commonLabels": values{name: "mine"}}); err == nil {
			t.Errorf("commonLabels may set the chart's own label %s", name)
		}
	}
}

// On OpenShift the restricted-v2 SCC assigns UIDs: with runAsUser null the
// operator's pod, the test pod and the injected sidecars ask for none, and
// still run as non-root with the rest of the restricted profile.
func TestOpenShiftValuesLeaveTheUIDToThePlatform(t *testing.T) {
	openshift := values{
		"podSecurityContext": values{"runAsUser": nil, "runAsGroup": nil},
		"sidecar":            values{"runAsUser": nil},
	}
	objs, err := renderArgs(t, release, namespace, openshift, optionalAPIs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"jack-operator", "jack-operator-test"} {
		var spec map[string]any
		if name == "jack-operator" {
			spec = field(t, find(t, objs, "Deployment", name), "spec", "template", "spec").(map[string]any)
		} else {
			spec = find(t, objs, "Pod", name).Object["spec"].(map[string]any)
		}
		psc := spec["securityContext"].(map[string]any)
		if _, ok := psc["runAsUser"]; ok {
			t.Errorf("%s: the pod still asks for UID %v", name, psc["runAsUser"])
		}
		if _, ok := psc["runAsGroup"]; ok {
			t.Errorf("%s: the pod still asks for GID %v", name, psc["runAsGroup"])
		}
		if psc["runAsNonRoot"] != true || psc["seccompProfile"].(map[string]any)["type"] != "RuntimeDefault" {
			t.Errorf("%s: pod securityContext %v lost runAsNonRoot or seccompProfile", name, psc)
		}
		sc := spec["containers"].([]any)[0].(map[string]any)["securityContext"].(map[string]any)
		if sc["allowPrivilegeEscalation"] != false || sc["readOnlyRootFilesystem"] != true ||
			!reflect.DeepEqual(sc["capabilities"], map[string]any{"drop": []any{"ALL"}}) {
			t.Errorf("%s: container securityContext %v", name, sc)
		}
	}
	args := containerArgs(t, find(t, objs, "Deployment", "jack-operator"))
	if !slices.Contains(args, "--sidecar-omit-run-as-user") || slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--sidecar-run-as-user") }) {
		t.Errorf("the injector is not told to leave the sidecar's UID out: %v", args)
	}

	// The defaults keep the fixed UID, as the kustomize install does.
	def := containerArgs(t, find(t, render(t, nil), "Deployment", "jack-operator"))
	if !slices.Contains(def, "--sidecar-run-as-user=65532") || slices.Contains(def, "--sidecar-omit-run-as-user") {
		t.Errorf("default sidecar UID flags: %v", def)
	}
	for name, v := range map[string]values{
		"a root sidecar":           {"sidecar": values{"runAsUser": 0}},
		"a UID in words":           {"sidecar": values{"runAsUser": "nonroot"}},
		"pull Secrets as strings":  {"sidecar": values{"imagePullSecrets": []any{"regcred"}}},
		"a pull Secret not a name": {"sidecar": values{"imagePullSecrets": []any{values{"name": "Reg_Cred"}}}},
	} {
		if _, err := renderErr(t, release, namespace, v); err == nil {
			t.Errorf("%s: rendered; want values.schema.json to refuse it", name)
		}
	}
}

func TestTheSidecarsImagePullSecretsReachTheInjector(t *testing.T) {
	objs := render(t, values{"sidecar": values{"imagePullSecrets": []any{values{"name": "regcred"}, values{"name": "mirror"}, values{"name": "regcred"}}}})
	args := containerArgs(t, find(t, objs, "Deployment", "jack-operator"))
	if !slices.Contains(args, "--sidecar-image-pull-secrets=regcred,mirror") {
		t.Errorf("the operator's arguments lack --sidecar-image-pull-secrets=regcred,mirror: %v", args)
	}
	if slices.ContainsFunc(containerArgs(t, find(t, render(t, nil), "Deployment", "jack-operator")), func(a string) bool {
		return strings.HasPrefix(a, "--sidecar-image-pull-secrets")
	}) {
		t.Error("the defaults pass --sidecar-image-pull-secrets")
	}
}

// The NetworkPolicy selects the operator's pods only and still lets in the
// API server (webhook port) and Prometheus (metrics port), and lets out the
// API server and the sidecars' ops port in the namespaces and pods the
// injection webhook selects.
func TestTheNetworkPolicyKeepsTheWebhookMetricsAndSidecarsReachable(t *testing.T) {
	if got := ofKind(render(t, nil), "NetworkPolicy"); len(got) > 0 {
		t.Error("a NetworkPolicy is rendered by default")
	}
	monitoring := []any{values{"namespaceSelector": values{"matchLabels": values{"kubernetes.io/metadata.name": "monitoring"}}}}
	objs := render(t, values{"networkPolicy": values{"enabled": true, "metricsFrom": monitoring}})
	np := find(t, objs, "NetworkPolicy", "jack-operator")
	dep := find(t, objs, "Deployment", "jack-operator")
	if !reflect.DeepEqual(field(t, np, "spec", "podSelector", "matchLabels"), field(t, dep, "spec", "selector", "matchLabels")) {
		t.Errorf("the policy selects %v, the operator's pods are %v", field(t, np, "spec", "podSelector", "matchLabels"), field(t, dep, "spec", "selector", "matchLabels"))
	}
	if got := field(t, np, "spec", "policyTypes"); !reflect.DeepEqual(got, []any{"Ingress", "Egress"}) {
		t.Errorf("policyTypes = %v", got)
	}
	ingress := field(t, np, "spec", "ingress").([]any)
	webhookRule := ruleForPort(t, ingress, 9443)
	if _, limited := webhookRule["from"]; limited {
		t.Errorf("the webhook port is limited to %v by default; the API server's address is not a pod's", webhookRule["from"])
	}
	if !hasContainerPort(t, dep, "webhook", 9443) || !hasContainerPort(t, dep, "metrics", 8080) {
		t.Error("the policy's ports are not the container's webhook and metrics ports")
	}
	// Narrowed scrapers: the helm test pod may still scrape, through the
	// metrics Service.
	withTests, err := renderArgs(t, release, namespace, values{"networkPolicy": values{"enabled": true, "metricsFrom": monitoring}})
	if err != nil {
		t.Fatal(err)
	}
	scrapers := ruleForPort(t, field(t, find(t, withTests, "NetworkPolicy", "jack-operator"), "spec", "ingress").([]any), 8080)["from"].([]any)
	if len(scrapers) != 2 || !reflect.DeepEqual(scrapers[0], monitoring[0]) || !selects(scrapers[1], find(t, withTests, "Pod", "jack-operator-test")) {
		t.Errorf("metrics may be scraped from %v, want %v and the helm test pod", scrapers, monitoring)
	}
	off := render(t, values{"networkPolicy": values{"enabled": true, "metricsFrom": monitoring}, "tests": values{"enabled": false}})
	if got := ruleForPort(t, field(t, find(t, off, "NetworkPolicy", "jack-operator"), "spec", "ingress").([]any), 8080)["from"]; !reflect.DeepEqual(got, monitoring) {
		t.Errorf("without the helm test, metrics may be scraped from %v, want %v", got, monitoring)
	}
	egress := field(t, np, "spec", "egress").([]any)
	ruleForPort(t, egress, 443)
	ruleForPort(t, egress, 6443)
	sidecars := ruleForPort(t, egress, 9090)
	to := sidecars["to"].([]any)[0].(map[string]any)
	inj := injectionWebhook(t, objs)
	if !reflect.DeepEqual(to["podSelector"], inj["objectSelector"]) {
		t.Errorf("sidecars reached as %v, the webhook injects pods %v", to["podSelector"], inj["objectSelector"])
	}
	if got := to["namespaceSelector"].(map[string]any)["matchLabels"]; !reflect.DeepEqual(got, inj["namespaceSelector"].(map[string]any)["matchLabels"]) {
		t.Errorf("sidecars reached in namespaces %v, the webhook injects in %v", got, inj["namespaceSelector"])
	}

	// Webhook callers narrowed: the helm test pod may still call it.
	objs = render(t, values{"networkPolicy": values{"enabled": true, "webhookFrom": []any{values{"ipBlock": values{"cidr": "10.0.0.0/24"}}}, "dns": true}})
	np = find(t, objs, "NetworkPolicy", "jack-operator")
	from := ruleForPort(t, field(t, np, "spec", "ingress").([]any), 9443)["from"].([]any)
	if len(from) != 2 || from[1].(map[string]any)["podSelector"].(map[string]any)["matchLabels"].(map[string]any)["app.kubernetes.io/name"] != "jack-operator-test" {
		t.Errorf("narrowed webhook callers %v do not include the test pod", from)
	}
	ruleForPort(t, field(t, np, "spec", "egress").([]any), 53)
}

// selects reports whether a NetworkPolicy peer of podSelector alone (the
// release namespace) selects the pod.
func selects(peer any, pod *unstructured.Unstructured) bool {
	p := peer.(map[string]any)
	sel, ok := p["podSelector"].(map[string]any)
	if !ok || len(p) != 1 {
		return false
	}
	for k, v := range sel["matchLabels"].(map[string]any) {
		if pod.GetLabels()[k] != v {
			return false
		}
	}
	return len(sel) == 1
}

func ruleForPort(t *testing.T, rules []any, port int) map[string]any {
	t.Helper()
	for _, r := range rules {
		r := r.(map[string]any)
		for _, p := range r["ports"].([]any) {
			if p.(map[string]any)["port"] == float64(port) {
				return r
			}
		}
	}
	t.Fatalf("no rule for port %d in %s", port, asYAML(rules))
	return nil
}

// The Prometheus Operator's and cert-manager's objects are rendered only
// where the cluster serves their APIs (or when forced); a missing
// cert-manager is refused with a sentence rather than rendering an operator
// that would wait forever for its certificate.
func TestOptionalAPIsAreRenderedOnlyWhereTheClusterServesThem(t *testing.T) {
	monitoring := valueSets["monitoring"]
	without, err := renderArgs(t, release, namespace, monitoring)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		if got := ofKind(without, kind); len(got) > 0 {
			t.Errorf("a %s is rendered although the cluster serves no monitoring.coreos.com/v1", kind)
		}
	}
	with, err := renderArgs(t, release, namespace, monitoring, "--api-versions", "monitoring.coreos.com/v1")
	if err != nil {
		t.Fatal(err)
	}
	find(t, with, "ServiceMonitor", "jack-operator")
	find(t, with, "PrometheusRule", "jack-operator")
	forced, err := renderArgs(t, release, namespace, merged(monitoring, values{"metrics": values{
		"serviceMonitor": values{"enabled": true, "force": true}, "prometheusRule": values{"enabled": true, "force": true}}}))
	if err != nil {
		t.Fatal(err)
	}
	find(t, forced, "ServiceMonitor", "jack-operator")
	find(t, forced, "PrometheusRule", "jack-operator")

	// (TestInstallUpgradeUninstallWithHelm checks that NOTES say so.)

	certManager := valueSets["cert-manager"]
	if _, err := renderArgs(t, release, namespace, certManager); err == nil || !strings.Contains(err.Error(), "the cluster serves no cert-manager.io/v1 API") {
		t.Errorf("cert-manager mode without cert-manager: %v; want a refusal naming the API", err)
	}
	objs, err := renderArgs(t, release, namespace, certManager, "--api-versions", "cert-manager.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	find(t, objs, "Certificate", "jack-operator-webhook")
	objs, err = renderArgs(t, release, namespace, merged(certManager, values{"webhook": values{"certMode": "cert-manager", "certManager": values{"force": true}}}))
	if err != nil {
		t.Fatal(err)
	}
	find(t, objs, "Issuer", "jack-operator-selfsigned")
}

// helm test runs the operator image's check command with exactly the names
// of this release, as test hooks, with RBAC that reads only those objects,
// and labels that no Service or budget of the operator counts.
func TestHelmTestChecksThisReleasesOperatorAndWebhook(t *testing.T) {
	objs, err := renderArgs(t, "staging", "jack-staging", nil)
	if err != nil {
		t.Fatal(err)
	}
	pod := find(t, objs, "Pod", "staging-jack-operator-test")
	if pod.GetAnnotations()["helm.sh/hook"] != "test" {
		t.Errorf("the test pod is not a test hook: %v", pod.GetAnnotations())
	}
	c := pod.Object["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	dep := find(t, objs, "Deployment", "staging-jack-operator")
	if op := field(t, dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any); c["image"] != op["image"] {
		t.Errorf("the test runs %v, not the operator's image %v", c["image"], op["image"])
	}
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	want := []string{"check", "--namespace=jack-staging", "--deployment=staging-jack-operator", "--webhook-service=staging-jack-operator-webhook",
		"--validating-webhook-configuration=staging-jack-operator-validating", "--mutating-webhook-configuration=staging-jack-operator-pod-injection",
		"--metrics-service=staging-jack-operator-metrics"}
	if !slices.Equal(args, want) {
		t.Errorf("test args %v, want %v", args, want)
	}
	// Every flag it passes is one `manager check` defines.
	source := string(readFile(t, filepath.Join(root, "internal", "selftest", "selftest.go")))
	for _, a := range args[1:] {
		flag, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.Contains(source, `"`+flag+`"`) {
			t.Errorf("the test passes --%s, which internal/selftest does not define", flag)
		}
	}
	// The webhook Service and the budget select the operator's pods only.
	svc := find(t, objs, "Service", "staging-jack-operator-webhook")
	sel := field(t, svc, "spec", "selector").(map[string]any)
	matches := true
	for k, v := range sel {
		matches = matches && pod.GetLabels()[k] == v
	}
	if matches {
		t.Errorf("the webhook Service (selector %v) would send admission requests to the test pod %v", sel, pod.GetLabels())
	}
	// Its RBAC: get, by name, the Deployment, the two Services and the two
	// configurations.
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		o := find(t, objs, kind, "staging-jack-operator-test")
		if o.GetAnnotations()["helm.sh/hook"] != "test" {
			t.Errorf("%s is not a test hook, so install would create it", kind)
		}
	}
	granted := append(rules(t, find(t, objs, "ClusterRole", "staging-jack-operator-test")), rules(t, find(t, objs, "Role", "staging-jack-operator-test"))...)
	got := ruleSet(granted)
	wantRules := []string{
		"/services get staging-jack-operator-webhook,staging-jack-operator-metrics",
		"admissionregistration.k8s.io/mutatingwebhookconfigurations get staging-jack-operator-pod-injection",
		"admissionregistration.k8s.io/validatingwebhookconfigurations get staging-jack-operator-validating",
		"apps/deployments get staging-jack-operator",
	}
	if !slices.Equal(got, wantRules) {
		t.Errorf("the test pod may\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantRules, "\n"))
	}
	// The metrics Service it scrapes has the port `manager check` looks for;
	// without that Service it is neither scraped nor readable.
	metricsSvc := find(t, objs, "Service", "staging-jack-operator-metrics")
	if p := field(t, metricsSvc, "spec", "ports").([]any)[0].(map[string]any); p["name"] != "http-metrics" {
		t.Errorf("the metrics Service's port is %v; internal/selftest scrapes the one named http-metrics", p)
	}
	noMetrics, err := renderArgs(t, "staging", "jack-staging", values{"metrics": values{"service": values{"enabled": false}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range find(t, noMetrics, "Pod", "staging-jack-operator-test").Object["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"].([]any) {
		if strings.HasPrefix(a.(string), "--metrics-service") {
			t.Errorf("without a metrics Service the test still passes %s", a)
		}
	}
	if got := ruleSet(rules(t, find(t, noMetrics, "Role", "staging-jack-operator-test"))); !slices.Contains(got, "/services get staging-jack-operator-webhook") {
		t.Errorf("without a metrics Service the test pod may %v", got)
	}
	// helm install does not create them, and tests.enabled=false drops them.
	for _, o := range render(t, nil) {
		if strings.HasSuffix(o.GetName(), "-test") {
			t.Errorf("helm install would create %s %s", o.GetKind(), o.GetName())
		}
	}
	off, err := renderArgs(t, release, namespace, values{"tests": values{"enabled": false}})
	if err != nil {
		t.Fatal(err)
	}
	if lookup(off, "Pod", "jack-operator-test") != nil {
		t.Error("tests.enabled=false still renders the test pod")
	}
}

func merged(a, b values) values {
	out := values{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if am, ok := out[k].(values); ok {
			if bm, ok := v.(values); ok {
				out[k] = merged(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
