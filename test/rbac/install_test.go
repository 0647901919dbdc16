package rbac

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jack-io/jack-operator/internal/testsupport/helmtest"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// The chart's release in the RBAC test: the names the chart is documented
// with.
const (
	chartRelease   = "jack-operator"
	chartNamespace = "jack-system"
)

// chartInstall is a real kube-apiserver holding what the chart installs
// that the operator's permissions depend on, and the operator's
// command line and identity as the chart's Deployment gives them.
type chartInstall struct {
	// apiServer is the API server, to add users to.
	apiServer *envtest.Environment
	admin     client.Client
	// adminConfig reaches the API server as a cluster administrator.
	adminConfig *rest.Config
	// clusterRole is the chart's ClusterRole.
	clusterRole string
	// namespace and serviceAccount are the Deployment's: who the operator is.
	namespace, serviceAccount string
	// args and env are the operator container's.
	args []string
	env  map[string]string
	// webhookPort is where the operator's webhook server listens on
	// 127.0.0.1, and the rewritten webhook configurations call it.
	webhookPort int
}

// appliedKinds are the rendered objects the operator's permissions depend on:
// applied as rendered, except that the webhook configurations call the
// in-process webhook server by URL instead of through the Service.
var appliedKinds = []string{
	"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
	// Created empty by the chart for the operator to fill (templates/state.yaml).
	"Lease", "Secret",
}

// unappliedKinds are rendered objects the test stands in for: the operator
// runs in this process with the Deployment's arguments, and nothing routes a
// Service's cluster IP here.
var unappliedKinds = []string{"Deployment", "Service", "PodDisruptionBudget"}

// installChart starts a kube-apiserver that enforces, besides RBAC,
// OwnerReferencesPermissionEnforcement (on in OpenShift and other hardened
// clusters: it refuses blockOwnerDeletion on an owner whose finalizers the
// writer cannot update), renders the chart with values (nil for the
// defaults), creates the namespaces its objects go into, as whoever
// installs it must, and applies what the operator's permissions depend on.
func installChart(t testing.TB, values map[string]any) *chartInstall {
	t.Helper()
	helmtest.Tool(t, "etcd")
	env := &envtest.Environment{
		BinaryAssetsDirectory:    filepath.Dir(helmtest.Tool(t, "kube-apiserver")),
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	env.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	t.Logf("the API server started in %s", time.Since(start).Round(time.Millisecond))
	admin, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	in := &chartInstall{apiServer: env, admin: admin, adminConfig: cfg, webhookPort: freePort(t)}

	rendered, err := helmtest.Template(t, chartRelease, chartNamespace, values)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	namespaces := []string{chartNamespace}
	for _, o := range rendered {
		if ns := o.GetNamespace(); ns != "" && !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	for _, name := range namespaces {
		ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
		if err := admin.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	var deployment *unstructured.Unstructured
	for _, o := range rendered {
		switch kind := o.GetKind(); {
		case kind == "Deployment":
			deployment = o
			continue
		case slices.Contains(unappliedKinds, kind):
			continue
		case !slices.Contains(appliedKinds, kind):
			t.Fatalf("the chart renders a %s (%s), which this test neither applies nor stands in for: decide whether the operator's permissions depend on it", kind, o.GetName())
		case strings.HasSuffix(kind, "WebhookConfiguration"):
			in.callInProcess(t, o)
		case kind == "ClusterRoleBinding":
			// The operator's ClusterRole is the one bound to it; the others
			// are the aggregated roles for users.
			if in.clusterRole != "" {
				t.Fatalf("the chart renders two ClusterRoleBindings, to %s and %s: the negative control takes a rule from the one", in.clusterRole, o.GetName())
			}
			in.clusterRole, _, _ = unstructured.NestedString(o.Object, "roleRef", "name")
		}
		if err := admin.Patch(ctx, o, client.Apply, client.FieldOwner("chart-rbac-test"), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if o.GetKind() == "CustomResourceDefinition" {
			waitEstablished(t, admin, o.GetName())
		}
	}
	if deployment == nil {
		t.Fatal("the chart renders no Deployment: there is no operator to run")
	}
	in.fromDeployment(t, deployment)
	return in
}

// callInProcess points a rendered webhook configuration's webhooks at the
// operator's webhook server on 127.0.0.1 (a URL), keeping their paths,
// rules, selectors and failure policies. Their caBundle stays empty, as the
// chart renders it in self mode: the operator fills it in.
func (in *chartInstall) callInProcess(t testing.TB, cfg *unstructured.Unstructured) {
	t.Helper()
	hooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
	for _, h := range hooks {
		cc := h.(map[string]any)["clientConfig"].(map[string]any)
		svc, ok := cc["service"].(map[string]any)
		if !ok {
			t.Fatalf("%s %s: a webhook calls %v, not a Service", cfg.GetKind(), cfg.GetName(), cc)
		}
		path, _ := svc["path"].(string)
		delete(cc, "service")
		cc["url"] = fmt.Sprintf("https://127.0.0.1:%d%s", in.webhookPort, path)
	}
	if err := unstructured.SetNestedSlice(cfg.Object, hooks, "webhooks"); err != nil {
		t.Fatal(err)
	}
}

// fromDeployment takes the operator container's arguments and environment,
// and the pod's service account.
func (in *chartInstall) fromDeployment(t testing.TB, d *unstructured.Unstructured) {
	t.Helper()
	in.namespace = d.GetNamespace()
	in.serviceAccount, _, _ = unstructured.NestedString(d.Object, "spec", "template", "spec", "serviceAccountName")
	if in.namespace == "" || in.serviceAccount == "" {
		t.Fatalf("the Deployment names no namespace (%q) or service account (%q)", in.namespace, in.serviceAccount)
	}
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("the Deployment has %d containers; this test runs one operator", len(containers))
	}
	c := containers[0].(map[string]any)
	if _, ok := c["envFrom"]; ok {
		t.Fatalf("the operator container takes envFrom %v, which this test cannot resolve", c["envFrom"])
	}
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	in.args = args
	in.env = map[string]string{}
	envs, _, _ := unstructured.NestedSlice(c, "env")
	for _, e := range envs {
		e := e.(map[string]any)
		name, _ := e["name"].(string)
		if v, ok := e["value"].(string); ok {
			in.env[name] = v
			continue
		}
		// What the kubelet resolves, for the fields the chart uses.
		switch path, _, _ := unstructured.NestedString(e, "valueFrom", "fieldRef", "fieldPath"); path {
		case "metadata.namespace":
			in.env[name] = in.namespace
		default:
			t.Fatalf("the operator's environment variable %s comes from %v, which this test cannot resolve", name, e["valueFrom"])
		}
	}
}

// identity is the chart's ServiceAccount, as the API server authenticates a
// pod that runs as it.
func (in *chartInstall) identity() rest.ImpersonationConfig {
	return rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + in.namespace + ":" + in.serviceAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + in.namespace, "system:authenticated"},
	}
}

// mayNot returns nil once the API server refuses the chart's
// ServiceAccount a verb on a resource in a namespace.
func (in *chartInstall) mayNot(ctx context.Context, verb, group, resource, namespace string) error {
	id := in.identity()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: id.UserName, Groups: id.Groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: namespace},
	}}
	if err := in.admin.Create(ctx, review); err != nil {
		return err
	}
	if review.Status.Allowed {
		return fmt.Errorf("%s %s is still allowed", verb, resource)
	}
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitEstablished(t testing.TB, c client.Client, name string) {
	t.Helper()
	poll.Until(t, 30*time.Second, "CRD "+name+" established", func() error {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := c.Get(context.Background(), client.ObjectKey{Name: name}, crd); err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			if c := c.(map[string]any); c["type"] == "Established" && c["status"] == "True" {
				return nil
			}
		}
		return errors.New("not yet")
	})
}
