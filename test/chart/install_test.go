package chart

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// apiServer is a kube-apiserver and etcd from bin/, with nothing installed:
// the chart brings its own CRDs.
type apiServer struct {
	client     client.Client
	kubeconfig string
}

func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	tool(t, "kube-apiserver")
	tool(t, "etcd")
	env := &envtest.Environment{
		BinaryAssetsDirectory:    filepath.Dir(tool(t, "kube-apiserver")),
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return &apiServer{client: c, kubeconfig: kc}
}

func (s *apiServer) helm(t *testing.T, v values, args ...string) string {
	t.Helper()
	args = append(append(args, "--kubeconfig", s.kubeconfig), valuesFile(t, v)...)
	out, err := run(t, helmEnv(t), tool(t, "helm"), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// get reads the live copy of a rendered object.
func (s *apiServer) get(t *testing.T, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	err := s.client.Get(context.Background(), types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}, live)
	return live, err
}

// The chart as a user installs it: helm install into a real API server,
// every object accepted, the CRDs serving, the webhooks pointing at the
// Service; then an upgrade with changed values, and an uninstall that
// leaves the CRDs and nothing else.
//
// No object is ever created that a webhook would be asked about: the API
// server would dial the webhook Service's cluster IP, and nothing listens
// there in a test.
func TestInstallUpgradeUninstallWithHelm(t *testing.T) {
	s := startAPIServer(t)
	ctx := context.Background()

	start := time.Now()
	notes := s.helm(t, nil, "install", release, chartDir, "--namespace", namespace, "--create-namespace")
	t.Logf("helm install took %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"rollout status deployment/jack-operator", "kubectl label namespace my-app auth.jack.io/injection=enabled", `auth.jack.io/inject: "true"`} {
		if !strings.Contains(notes, want) {
			t.Errorf("NOTES do not tell the next step %q:\n%s", want, notes)
		}
	}

	rendered := render(t, nil)
	for _, o := range rendered {
		if _, err := s.get(t, o); err != nil {
			t.Errorf("%s %s was not installed: %v", o.GetKind(), o.GetName(), err)
		}
	}

	// Every CRD is established and its kind can be listed.
	for _, crd := range ofKind(rendered, "CustomResourceDefinition") {
		waitEstablished(t, s, crd.GetName())
		names := field(t, crd, "spec", "names").(map[string]any)
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: field(t, crd, "spec", "group").(string),
			Version: servedVersion(t, crd), Kind: names["listKind"].(string)})
		if err := s.client.List(ctx, list, client.InNamespace("default")); err != nil {
			t.Errorf("%s do not serve: %v", names["plural"], err)
		}
	}
	// A SigningKey is accepted, with the CRD's defaults (no webhook sees it).
	refuseIfWebhooked(t, rendered, "auth.jack.io", "signingkeys")
	key := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "auth.jack.io/v1alpha1", "kind": "SigningKey",
		"metadata": map[string]any{"name": "jack", "namespace": "default"},
	}}
	if err := s.client.Create(ctx, key); err != nil {
		t.Fatalf("creating a SigningKey: %v", err)
	}
	if got, _, _ := unstructured.NestedString(key.Object, "spec", "tokenTTL"); got != "24h" {
		t.Errorf("the SigningKey's tokenTTL defaulted to %q, want 24h", got)
	}

	// The webhooks point at the installed Service, which reaches the
	// operator's webhook port.
	svc, err := s.get(t, find(t, rendered, "Service", "jack-operator-webhook"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range webhookConfigs(t, rendered) {
		live, err := s.get(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range webhooks(t, live) {
			ref := h["clientConfig"].(map[string]any)["service"].(map[string]any)
			if ref["name"] != svc.GetName() || ref["namespace"] != svc.GetNamespace() || ref["port"] != int64(443) {
				t.Errorf("webhook %s calls %v, not Service %s/%s port 443", h["name"], ref, svc.GetNamespace(), svc.GetName())
			}
		}
	}

	// The operator's leader patches caBundle (simulated here); an upgrade
	// that changes values must keep it, or admission breaks until the
	// operator puts it back.
	caBundle := base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	mutating := find(t, rendered, "MutatingWebhookConfiguration", "jack-operator-pod-injection")
	live, err := s.get(t, mutating)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range webhooks(t, live) {
		h["clientConfig"].(map[string]any)["caBundle"] = caBundle
	}
	if err := s.client.Update(ctx, live); err != nil {
		t.Fatalf("patching caBundle as the operator does: %v", err)
	}

	start = time.Now()
	notes = s.helm(t, valueSets["HA off"], "upgrade", release, chartDir, "--namespace", namespace,
		"--set", "webhook.podInjection.failurePolicy=Ignore", "--set", "metrics.serviceMonitor.enabled=true")
	t.Logf("helm upgrade took %s", time.Since(start).Round(time.Millisecond))
	// This API server has no Prometheus Operator: the ServiceMonitor is
	// skipped, and NOTES say so.
	if !strings.Contains(notes, "metrics.serviceMonitor.enabled is true, but the cluster serves no monitoring.coreos.com/v1") {
		t.Errorf("NOTES do not say the ServiceMonitor was skipped:\n%s", notes)
	}
	dep, err := s.get(t, find(t, rendered, "Deployment", "jack-operator"))
	if err != nil {
		t.Fatal(err)
	}
	if got := field(t, dep, "spec", "replicas"); got != int64(1) {
		t.Errorf("after the upgrade replicas = %v, want 1", got)
	}
	if _, err := s.get(t, find(t, rendered, "PodDisruptionBudget", "jack-operator")); !apierrors.IsNotFound(err) {
		t.Errorf("the PodDisruptionBudget outlived the upgrade to one replica: %v", err)
	}
	live, err = s.get(t, mutating)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range webhooks(t, live) {
		if h["failurePolicy"] != "Ignore" {
			t.Errorf("after the upgrade %s failurePolicy = %v, want Ignore", h["name"], h["failurePolicy"])
		}
		if got, _ := h["clientConfig"].(map[string]any)["caBundle"].(string); got != caBundle {
			t.Errorf("the upgrade wiped %s's caBundle", h["name"])
		}
	}

	// Uninstall: the operator and its webhooks go (a webhook left behind
	// would refuse pods forever); the CRDs and the user's resources stay.
	s.helm(t, nil, "uninstall", release, "--namespace", namespace)
	for _, o := range rendered {
		_, err := s.get(t, o)
		switch {
		case o.GetKind() == "CustomResourceDefinition" && err != nil:
			t.Errorf("uninstall removed CRD %s, and with it every resource of its kind: %v", o.GetName(), err)
		case o.GetKind() != "CustomResourceDefinition" && !apierrors.IsNotFound(err):
			t.Errorf("%s %s is left after uninstall (err %v)", o.GetKind(), o.GetName(), err)
		}
	}
	if err := s.client.Get(ctx, client.ObjectKeyFromObject(key), key); err != nil {
		t.Errorf("the SigningKey is gone after uninstall: %v", err)
	}

	// With the webhooks gone (checked above: else the API server would dial
	// their Service), the newcomer's sample is valid against the CRDs.
	if t.Failed() {
		return
	}
	for _, o := range readObjects(t, filepath.Join(root, "config", "samples", "quickstart.yaml")) {
		if err := s.client.Patch(ctx, o, client.Apply, client.FieldOwner("chart-test")); err != nil {
			t.Errorf("config/samples/quickstart.yaml: %s %s refused: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// The other value sets, applied server-side as a second release beside the
// first (sharing its CRDs): cert-manager's and Prometheus's kinds, with
// stand-in CRDs for them, and every object accepted.
func TestOtherValueSetsAreAcceptedByTheAPIServer(t *testing.T) {
	s := startAPIServer(t)
	ctx := context.Background()
	s.helm(t, nil, "install", release, chartDir, "--namespace", namespace, "--create-namespace")
	for _, crd := range []struct{ group, kind, plural string }{
		{"cert-manager.io", "Certificate", "certificates"},
		{"cert-manager.io", "Issuer", "issuers"},
		{"monitoring.coreos.com", "ServiceMonitor", "servicemonitors"},
		{"monitoring.coreos.com", "PrometheusRule", "prometheusrules"},
	} {
		createStandInCRD(t, s, crd.group, crd.kind, crd.plural)
	}

	for i, name := range []string{"cert-manager", "cert-manager with a ClusterIssuer", "HA off", "custom selectors", "monitoring", "pinned images, own service account"} {
		t.Run(name, func(t *testing.T) {
			rel, ns := fmt.Sprintf("second-%d", i), fmt.Sprintf("jack-second-%d", i)
			v := values{"crds": values{"install": false}}
			for k, val := range valueSets[name] {
				v[k] = val
			}
			objs, err := renderErr(t, rel, ns, v)
			if err != nil {
				t.Fatal(err)
			}
			nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
			if err := s.client.Create(ctx, nsObj); err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if o.GetKind() == "CustomResourceDefinition" {
					t.Errorf("crds.install=false still renders %s", o.GetName())
					continue
				}
				if err := s.client.Patch(ctx, o, client.Apply, client.FieldOwner("chart-test"), client.ForceOwnership); err != nil {
					t.Errorf("%s %s refused: %v", o.GetKind(), o.GetName(), err)
				}
			}
		})
	}
}

func waitEstablished(t *testing.T, s *apiServer, name string) {
	t.Helper()
	poll.Until(t, 30*time.Second, "CRD "+name+" is Established", func() error {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		if err := s.client.Get(context.Background(), types.NamespacedName{Name: name}, crd); err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			if c := c.(map[string]any); c["type"] == "Established" && c["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("its conditions are %v", conds)
	})
}

func servedVersion(t *testing.T, crd *unstructured.Unstructured) string {
	t.Helper()
	for _, v := range field(t, crd, "spec", "versions").([]any) {
		if v := v.(map[string]any); v["served"] == true {
			return v["name"].(string)
		}
	}
	t.Fatalf("CRD %s serves no version", crd.GetName())
	return ""
}

// refuseIfWebhooked stops a test that is about to create a resource a
// webhook would be called for.
func refuseIfWebhooked(t *testing.T, objs []*unstructured.Unstructured, group, resource string) {
	t.Helper()
	for _, cfg := range webhookConfigs(t, objs) {
		for _, h := range webhooks(t, cfg) {
			for _, r := range h["rules"].([]any) {
				r := r.(map[string]any)
				if contains(r["apiGroups"], group) && contains(r["resources"], resource) {
					t.Fatalf("webhook %s now sees %s: creating one here would make the API server dial the webhook Service's cluster IP; pick another resource for this check", h["name"], resource)
				}
			}
		}
	}
}

func contains(list any, s string) bool {
	for _, v := range list.([]any) {
		if v == s || v == "*" {
			return true
		}
	}
	return false
}

func createStandInCRD(t *testing.T, s *apiServer, group, kind, plural string) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind), "listKind": kind + "List"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if err := s.client.Create(context.Background(), crd); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, s, crd.GetName())
}
