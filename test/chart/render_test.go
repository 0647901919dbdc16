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

func TestChartLintsCleanWithEveryValueSet(t *testing.T) {
	for name, v := range valueSets {
		t.Run(name, func(t *testing.T) {
			// helm lint cannot announce APIs: force what needs them, so
			// lint sees every object the values ask for.
			forced := []string{"--set", "webhook.certManager.force=true,metrics.serviceMonitor.force=true,metrics.prometheusRule.force=true"}
			args := append(append([]string{"lint", chartDir, "--strict", "--namespace", namespace}, valuesFile(t, v)...), forced...)
			out, err := run(t, helmEnv(t), tool(t, "helm"), args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// --strict fails on warnings; the only message left should be
			// the recommendation of an icon.
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "[") && !strings.Contains(line, "icon is recommended") {
					t.Errorf("helm lint: %s", line)
				}
			}
		})
	}
}

// valueSets are the configurations users are expected to choose.
var valueSets = map[string]values{
	"default":      nil,
	"cert-manager": {"webhook": values{"certMode": "cert-manager"}},
	"cert-manager with a ClusterIssuer": {"webhook": values{"certMode": "cert-manager",
		"certManager": values{"issuerRef": values{"kind": "ClusterIssuer", "name": "internal-ca"}}}},
	"HA off": {"replicaCount": 1, "leaderElection": values{"enabled": false}},
	"custom selectors": {"webhook": values{"podInjection": values{
		"failurePolicy":     "Ignore",
		"timeoutSeconds":    10,
		"namespaceSelector": values{"matchLabels": values{"team": "jack", "auth.jack.io/injection": nil}, "matchExpressions": []values{{"key": "env", "operator": "In", "values": []string{"prod"}}}},
		"objectSelector":    values{"matchLabels": nil, "matchExpressions": []values{{"key": "app", "operator": "In", "values": []string{"jack", "jack-worker"}}}},
	}}},
	"monitoring": {"metrics": values{"serviceMonitor": values{"enabled": true, "labels": values{"release": "prom"}},
		"prometheusRule": values{"enabled": true}}},
	"pinned images, own service account": {
		"image":          values{"registry": "registry.example.com/jack", "digest": "sha256:" + strings.Repeat("ab", 32)},
		"sidecar":        values{"image": values{"repository": "jack-auth", "tag": "1.2.3"}, "native": false},
		"serviceAccount": values{"create": false, "name": "platform-jack"},
		"operator":       values{"minPasswordLength": 16, "logLevel": "debug", "extraArgs": []string{"--zap-encoder=console"}},
	},
}

func TestDefaultValuesRenderAnHAOperatorWithItsOwnCertificates(t *testing.T) {
	objs := render(t, nil)
	dep := find(t, objs, "Deployment", "jack-operator")
	if got := field(t, dep, "spec", "replicas"); got != float64(2) {
		t.Errorf("replicas = %v, want 2", got)
	}
	args := containerArgs(t, dep)
	for _, want := range []string{
		"--leader-elect=true",
		"--webhook-cert-mode=self",
		"--webhook-secret-name=jack-operator-webhook-certs",
		"--webhook-service-name=jack-operator-webhook",
		"--validating-webhook-configuration=jack-operator-validating",
		"--mutating-webhook-configuration=jack-operator-pod-injection",
		"--sidecar-image=ghcr.io/jack-io/jack-auth:" + appVersion(t),
		"--native-sidecars=true",
		"--sidecar-forward-auth=auto",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("the operator's arguments lack %s: %v", want, args)
		}
	}
	if find(t, objs, "PodDisruptionBudget", "jack-operator") == nil {
		t.Error("two replicas without a PodDisruptionBudget")
	}

	// Self mode: every replica reads the Secret through the API and serves
	// from memory; the CA's key is never mounted.
	if vols := field(t, dep, "spec", "template", "spec").(map[string]any)["volumes"]; vols != nil {
		t.Errorf("self mode mounts %v", vols)
	}
	for _, kind := range []string{"Certificate", "Issuer", "ServiceMonitor", "PrometheusRule"} {
		if got := ofKind(objs, kind); len(got) > 0 {
			t.Errorf("default values render a %s", kind)
		}
	}

	// Hardened: not root, nothing to escalate to, nothing written.
	sc := field(t, dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false {
		t.Errorf("container securityContext = %v", sc)
	}
	if field(t, dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("the pod may run as root")
	}

	// Every webhook is served by the webhook Service, whose port reaches the
	// container's webhook port, and nothing else; caBundle is left to the
	// operator.
	svc := find(t, objs, "Service", "jack-operator-webhook")
	port := field(t, svc, "spec", "ports").([]any)[0].(map[string]any)
	if port["port"] != float64(443) || port["targetPort"] != "webhook" {
		t.Errorf("webhook Service port = %v, want 443 to the container port named webhook", port)
	}
	if !hasContainerPort(t, dep, "webhook", 9443) {
		t.Error("the operator container has no port named webhook on 9443")
	}
	if !reflect.DeepEqual(field(t, svc, "spec", "selector"), field(t, dep, "spec", "selector", "matchLabels")) {
		t.Errorf("the webhook Service selects %v, the Deployment's pods are %v", field(t, svc, "spec", "selector"), field(t, dep, "spec", "selector", "matchLabels"))
	}
	for _, cfg := range webhookConfigs(t, objs) {
		if cfg.GetAnnotations()["cert-manager.io/inject-ca-from"] != "" {
			t.Errorf("%s has cert-manager's annotation in self mode", cfg.GetName())
		}
		for _, h := range webhooks(t, cfg) {
			ref := h["clientConfig"].(map[string]any)["service"].(map[string]any)
			if ref["name"] != "jack-operator-webhook" || ref["namespace"] != namespace {
				t.Errorf("webhook %s is served by %v, want jack-operator-webhook in %s", h["name"], ref, namespace)
			}
			if _, set := h["clientConfig"].(map[string]any)["caBundle"]; set {
				t.Errorf("webhook %s sets caBundle: an upgrade would overwrite the operator's", h["name"])
			}
		}
	}
	inj := injectionWebhook(t, objs)
	if inj["failurePolicy"] != "Fail" || inj["reinvocationPolicy"] != "IfNeeded" {
		t.Errorf("pod injection failurePolicy %v, reinvocationPolicy %v; want Fail, IfNeeded", inj["failurePolicy"], inj["reinvocationPolicy"])
	}
	if got := notIn(t, inj); !reflect.DeepEqual(got, []any{"kube-system", namespace}) {
		t.Errorf("pod injection excludes namespaces %v, want kube-system and %s", got, namespace)
	}

	// The CRDs are all there and survive an uninstall.
	crds := ofKind(objs, "CustomResourceDefinition")
	bases, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if len(crds) != len(bases) || len(crds) == 0 {
		t.Errorf("%d CRDs rendered, %d in config/crd/bases", len(crds), len(bases))
	}
	for _, crd := range crds {
		if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s would be deleted, with every resource of its kind, on uninstall", crd.GetName())
		}
	}
}

func TestCertManagerModeHandsTheCertificateToCertManager(t *testing.T) {
	objs := render(t, valueSets["cert-manager"])
	cert := find(t, objs, "Certificate", "jack-operator-webhook")
	issuer := find(t, objs, "Issuer", "jack-operator-selfsigned")
	if got := field(t, cert, "spec", "issuerRef", "name"); got != issuer.GetName() {
		t.Errorf("the Certificate is issued by %v, want %s", got, issuer.GetName())
	}
	dns := field(t, cert, "spec", "dnsNames").([]any)
	if !slices.Contains(dns, any("jack-operator-webhook.jack-system.svc")) {
		t.Errorf("the Certificate's names %v do not include the name the API server dials", dns)
	}
	dep := find(t, objs, "Deployment", "jack-operator")
	if !slices.Contains(containerArgs(t, dep), "--webhook-cert-mode=files") {
		t.Errorf("the operator is not told to read its certificate from files: %v", containerArgs(t, dep))
	}
	vol := volume(t, dep, "webhook-certs")["secret"].(map[string]any)
	if vol["secretName"] != field(t, cert, "spec", "secretName") || vol["optional"] == true {
		t.Errorf("the mounted Secret %v is not the Certificate's %v, required", vol, field(t, cert, "spec", "secretName"))
	}
	c := field(t, dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	mount := c["volumeMounts"].([]any)[0].(map[string]any)
	if !slices.Contains(containerArgs(t, dep), "--webhook-cert-dir="+mount["mountPath"].(string)) {
		t.Errorf("--webhook-cert-dir is not where the Secret is mounted (%v): %v", mount["mountPath"], containerArgs(t, dep))
	}
	for _, cfg := range webhookConfigs(t, objs) {
		if got := cfg.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != "jack-system/jack-operator-webhook" {
			t.Errorf("%s: cainjector annotation = %q, want jack-system/jack-operator-webhook", cfg.GetName(), got)
		}
	}

	objs = render(t, valueSets["cert-manager with a ClusterIssuer"])
	if got := ofKind(objs, "Issuer"); len(got) > 0 {
		t.Error("a self-signed Issuer is made although a ClusterIssuer is named")
	}
	cert = find(t, objs, "Certificate", "jack-operator-webhook")
	if ref := field(t, cert, "spec", "issuerRef").(map[string]any); ref["kind"] != "ClusterIssuer" || ref["name"] != "internal-ca" {
		t.Errorf("issuerRef = %v", ref)
	}
}

func TestOneReplicaHasNoDisruptionBudget(t *testing.T) {
	objs := render(t, valueSets["HA off"])
	dep := find(t, objs, "Deployment", "jack-operator")
	if got := field(t, dep, "spec", "replicas"); got != float64(1) {
		t.Errorf("replicas = %v, want 1", got)
	}
	if !slices.Contains(containerArgs(t, dep), "--leader-elect=false") {
		t.Errorf("leader election is still on: %v", containerArgs(t, dep))
	}
	if got := ofKind(objs, "PodDisruptionBudget"); len(got) > 0 {
		t.Error("a PodDisruptionBudget with one replica would block every node drain")
	}
}

func TestCustomSelectorsStillNeverReachKubeSystem(t *testing.T) {
	objs := render(t, valueSets["custom selectors"])
	inj := injectionWebhook(t, objs)
	if inj["failurePolicy"] != "Ignore" || inj["timeoutSeconds"] != float64(10) {
		t.Errorf("failurePolicy %v, timeoutSeconds %v; want Ignore, 10", inj["failurePolicy"], inj["timeoutSeconds"])
	}
	ns := inj["namespaceSelector"].(map[string]any)
	if !reflect.DeepEqual(ns["matchLabels"], map[string]any{"team": "jack"}) {
		t.Errorf("namespace labels = %v", ns["matchLabels"])
	}
	exprs := ns["matchExpressions"].([]any)
	if len(exprs) != 2 || exprs[0].(map[string]any)["key"] != "env" {
		t.Errorf("the user's namespace expressions are not kept: %v", exprs)
	}
	if got := notIn(t, inj); !reflect.DeepEqual(got, []any{"kube-system", namespace}) {
		t.Errorf("custom selectors exclude %v, want kube-system and %s", got, namespace)
	}
	obj := inj["objectSelector"].(map[string]any)
	if _, ok := obj["matchLabels"]; ok || len(obj["matchExpressions"].([]any)) != 1 {
		t.Errorf("objectSelector = %v, want only the app expression", obj)
	}
	// The validating webhook keeps its own policy.
	val := find(t, objs, "ValidatingWebhookConfiguration", "jack-operator-validating")
	for _, h := range webhooks(t, val) {
		if h["failurePolicy"] != "Fail" {
			t.Errorf("%s failurePolicy = %v, want Fail", h["name"], h["failurePolicy"])
		}
	}
}

func TestMonitoringScrapesTheMetricsServiceAndAlertsOnMetricsTheOperatorExports(t *testing.T) {
	objs := render(t, valueSets["monitoring"])
	sm := find(t, objs, "ServiceMonitor", "jack-operator")
	if sm.GetLabels()["release"] != "prom" {
		t.Errorf("ServiceMonitor labels = %v, want the release=prom Prometheus selects by", sm.GetLabels())
	}
	metricsSvc := find(t, objs, "Service", "jack-operator-metrics")
	sel := field(t, sm, "spec", "selector", "matchLabels").(map[string]any)
	for k, v := range sel {
		if metricsSvc.GetLabels()[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%v, the metrics Service has %v", k, v, metricsSvc.GetLabels())
		}
	}
	rule := find(t, objs, "PrometheusRule", "jack-operator")
	exprs := asYAML(field(t, rule, "spec", "groups"))
	for _, alert := range []string{"JackSigningKeyRotationOverdue", "JackWebhookCertificateExpiringSoon"} {
		if !strings.Contains(exprs, alert) {
			t.Errorf("no %s alert", alert)
		}
	}
	source := goSource(t)
	for _, metric := range []string{"jack_signingkey_next_rotation_timestamp_seconds", "jack_operator_webhook_certificate_expiry_timestamp_seconds"} {
		if !strings.Contains(exprs, metric) {
			t.Errorf("the alerts do not use %s", metric)
		}
		if !strings.Contains(source, `"`+metric+`"`) && !pendingCertManagement(t, metric) {
			t.Errorf("an alert uses %s, which the operator's code does not define", metric)
		}
	}
}

// The operator is started with exactly the flags it defines: a renamed flag
// would stop every replica at start-up.
func TestChartPassesOnlyFlagsTheOperatorDefines(t *testing.T) {
	source := goSource(t)
	// controller-runtime's zap.Options.BindFlags defines these.
	zapFlags := []string{"zap-devel", "zap-encoder", "zap-log-level", "zap-stacktrace-level", "zap-time-encoding"}
	for name, v := range valueSets {
		dep := find(t, render(t, v), "Deployment", "jack-operator")
		for _, arg := range containerArgs(t, dep) {
			flag, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			if slices.Contains(zapFlags, flag) || strings.Contains(source, `"`+flag+`"`) || pendingCertManagement(t, flag) {
				continue
			}
			t.Errorf("%s: the chart passes --%s, which the operator does not define", name, flag)
		}
	}
}

// pendingCertManagement allows the names the operator's certificate
// management (controllers/webhookcerts and its flags) introduces, until that
// package exists; from then on they are checked like every other name.
func pendingCertManagement(t *testing.T, name string) bool {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "controllers", "webhookcerts")); err == nil {
		return false
	}
	pending := []string{"webhook-cert-mode", "webhook-secret-name", "webhook-service-name",
		"validating-webhook-configuration", "mutating-webhook-configuration",
		"jack_operator_webhook_certificate_expiry_timestamp_seconds"}
	if slices.Contains(pending, name) {
		t.Logf("%s is not checked: controllers/webhookcerts has not landed yet", name)
		return true
	}
	return false
}

func TestPinnedImagesAndAnExistingServiceAccount(t *testing.T) {
	objs := render(t, valueSets["pinned images, own service account"])
	dep := find(t, objs, "Deployment", "jack-operator")
	c := field(t, dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	if want := "registry.example.com/jack/jack-operator:" + appVersion(t) + "@sha256:" + strings.Repeat("ab", 32); c["image"] != want {
		t.Errorf("image = %v, want %s", c["image"], want)
	}
	args := containerArgs(t, dep)
	for _, want := range []string{"--sidecar-image=registry.example.com/jack/jack-auth:1.2.3", "--native-sidecars=false",
		"--min-password-length=16", "--zap-log-level=debug", "--zap-encoder=console"} {
		if !slices.Contains(args, want) {
			t.Errorf("arguments lack %s: %v", want, args)
		}
	}
	if got := ofKind(objs, "ServiceAccount"); len(got) > 0 {
		t.Error("a ServiceAccount is created although serviceAccount.create is false")
	}
	if got := field(t, dep, "spec", "template", "spec", "serviceAccountName"); got != "platform-jack" {
		t.Errorf("serviceAccountName = %v", got)
	}
	crb := find(t, objs, "ClusterRoleBinding", "jack-operator")
	if s := field(t, crb, "subjects").([]any)[0].(map[string]any); s["name"] != "platform-jack" {
		t.Errorf("the ClusterRole is bound to %v, not the existing ServiceAccount", s)
	}
}

func TestReleaseNamesKeepReleasesApart(t *testing.T) {
	objs, err := renderErr(t, "staging", "jack-staging", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"Deployment", "ClusterRole", "ClusterRoleBinding"} {
		find(t, objs, kind, "staging-jack-operator")
	}
	find(t, objs, "ValidatingWebhookConfiguration", "staging-jack-operator-validating")
	find(t, objs, "MutatingWebhookConfiguration", "staging-jack-operator-pod-injection")
	args := containerArgs(t, find(t, objs, "Deployment", "staging-jack-operator"))
	if !slices.Contains(args, "--validating-webhook-configuration=staging-jack-operator-validating") {
		t.Errorf("the operator is not told its release's webhook configuration: %v", args)
	}
}

func TestBadValuesAreRefusedWithASentence(t *testing.T) {
	cases := map[string]struct {
		values values
		says   string
	}{
		"an unknown certificate mode":      {values{"webhook": values{"certMode": "vault"}}, "value must be one of 'self', 'cert-manager'"},
		"a failure policy in lower case":   {values{"webhook": values{"podInjection": values{"failurePolicy": "fail"}}}, "value must be one of 'Fail', 'Ignore'"},
		"a misspelt key":                   {values{"webhook": values{"podInjection": values{"failurPolicy": "Fail"}}}, "additional properties 'failurPolicy' not allowed"},
		"no replica":                       {values{"replicaCount": 0}, "/replicaCount"},
		"an unquoted label value":          {values{"webhook": values{"podInjection": values{"objectSelector": values{"matchLabels": values{"auth.jack.io/inject": true}}}}}, "got boolean, want string"},
		"pods selected by nothing":         {values{"webhook": values{"podInjection": values{"objectSelector": values{"matchLabels": nil}}}}, "missing property 'matchLabels'"},
		"replicas without a leader":        {values{"leaderElection": values{"enabled": false}}, "replicaCount is 2 but leaderElection.enabled is false"},
		"an issuer without a name":         {values{"webhook": values{"certMode": "cert-manager", "certManager": values{"issuerRef": values{"kind": "ClusterIssuer"}}}}, "issuerRef needs a name"},
		"a budget nobody can drain":        {values{"podDisruptionBudget": values{"minAvailable": 2}}, "must be below replicaCount"},
		"a digest that is not one":         {values{"image": values{"digest": "latest"}}, "at '/image/digest': 'latest' does not match pattern '^(sha256:[a-f0-9]{64})?$'"},
		"a sidecar digest without sha256:": {values{"sidecar": values{"image": values{"digest": strings.Repeat("ab", 32)}}}, "at '/sidecar/image/digest'"},
		"a digest in upper case":           {values{"image": values{"digest": "sha256:" + strings.Repeat("AB", 32)}}, "at '/image/digest'"},
		"a tag in the repository":          {values{"image": values{"repository": "jack-operator:0.1.0"}}, "at '/image/repository'"},
		"a digest in the repository":       {values{"image": values{"repository": "jack-operator@sha256:" + strings.Repeat("ab", 32)}}, "at '/image/repository'"},
		"a tag in the registry":            {values{"image": values{"registry": "ghcr.io/jack-io:0.1.0"}}, "at '/image/registry'"},
		"a registry with a trailing slash": {values{"sidecar": values{"image": values{"registry": "ghcr.io/jack-io/"}}}, "at '/sidecar/image/registry'"},
		"a global registry with a tag":     {values{"global": values{"imageRegistry": "mirror.example.com/jack:1"}}, "at '/global/imageRegistry'"},
		"a registry in the repository as well": {values{"image": values{"repository": "registry.example.com/jack/jack-operator"}},
			`image.repository "registry.example.com/jack/jack-operator" starts with a registry (registry.example.com) while the registry is "ghcr.io/jack-io"`},
		"a sidecar repository naming localhost under a registry": {values{"sidecar": values{"image": values{"repository": "localhost/jack/jack-auth"}}},
			`sidecar.image.repository "localhost/jack/jack-auth" starts with a registry (localhost) while the registry is "ghcr.io/jack-io"`},
		"a timeout the API server refuses": {values{"webhook": values{"podInjection": values{"timeoutSeconds": 60}}}, "/webhook/podInjection/timeoutSeconds"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := renderErr(t, release, namespace, c.values)
			if err == nil {
				t.Fatalf("rendered; want a refusal saying %q", c.says)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("refused with\n%v\nwant it to say %q", err, c.says)
			}
		})
	}
}

func containerArgs(t *testing.T, dep *unstructured.Unstructured) []string {
	t.Helper()
	c := field(t, dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	return args
}

func hasContainerPort(t *testing.T, dep *unstructured.Unstructured, name string, port int) bool {
	t.Helper()
	c := field(t, dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	for _, p := range c["ports"].([]any) {
		p := p.(map[string]any)
		if p["name"] == name && p["containerPort"] == float64(port) {
			return true
		}
	}
	return false
}

func volume(t *testing.T, dep *unstructured.Unstructured, name string) map[string]any {
	t.Helper()
	for _, v := range field(t, dep, "spec", "template", "spec", "volumes").([]any) {
		if v := v.(map[string]any); v["name"] == name {
			return v
		}
	}
	t.Fatalf("no volume %s", name)
	return nil
}

func webhookConfigs(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	cfgs := append(ofKind(objs, "ValidatingWebhookConfiguration"), ofKind(objs, "MutatingWebhookConfiguration")...)
	if len(cfgs) != 2 {
		t.Fatalf("%d webhook configurations rendered, want 2", len(cfgs))
	}
	return cfgs
}

func webhooks(t *testing.T, cfg *unstructured.Unstructured) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, h := range field(t, cfg, "webhooks").([]any) {
		out = append(out, h.(map[string]any))
	}
	return out
}

func injectionWebhook(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	for _, h := range webhooks(t, find(t, objs, "MutatingWebhookConfiguration", "jack-operator-pod-injection")) {
		if h["name"] == "inject.auth.jack.io" {
			return h
		}
	}
	t.Fatal("no inject.auth.jack.io webhook")
	return nil
}

// notIn is the namespace names a webhook's namespaceSelector excludes by
// name.
func notIn(t *testing.T, hook map[string]any) []any {
	t.Helper()
	ns, _ := hook["namespaceSelector"].(map[string]any)
	exprs, _ := ns["matchExpressions"].([]any)
	for _, e := range exprs {
		e := e.(map[string]any)
		if e["key"] == "kubernetes.io/metadata.name" && e["operator"] == "NotIn" {
			return e["values"].([]any)
		}
	}
	return nil
}

func appVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "appVersion:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	t.Fatal("Chart.yaml has no appVersion")
	return ""
}

// goSource is the operator's non-test Go code, to check that names the
// chart uses exist.
func goSource(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	for _, dir := range []string{"controllers", "webhooks", "internal", "."} { // and one level below each
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.go"))
		sub, _ := filepath.Glob(filepath.Join(root, dir, "*", "*.go"))
		for _, f := range append(files, sub...) {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
	}
	return all.String()
}
