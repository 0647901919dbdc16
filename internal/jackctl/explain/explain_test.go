package explain

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/jackctl"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, jackctl.Scheme(), func(e *testenv.Env) (func(), error) {
		k8s = e.Client
		return nil, nil
	}))
}

// operatorDeployment is the operator's Deployment as the chart renders it,
// with its default injection settings and extra arguments.
func operatorDeployment(extra ...string) *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "jack-operator", "app.kubernetes.io/instance": "jack-operator", "app.kubernetes.io/component": "operator"}
	args := append([]string{
		"--leader-elect=true", "--webhook-cert-mode=self",
		"--webhook-secret-name=jack-operator-webhook-certs", "--mutating-webhook-configuration=jack-operator-pod-injection",
		`--injection-namespace-selector={"matchLabels":{"auth.jack.io/injection":"enabled"}}`,
		`--injection-object-selector={"matchLabels":{"auth.jack.io/inject":"true"}}`,
		"--sidecar-image=ghcr.io/jack-io/jack-auth:0.1.0", "--native-sidecars=true", "--zap-log-level=info",
	}, extra...)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-operator", Namespace: "jack-system", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "operator", Image: "ghcr.io/jack-io/jack-operator:0.1.0", Args: args,
					Env: []corev1.EnvVar{{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}},
				}}},
			},
		},
	}
}

func namespace(name string, enabled bool) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if enabled {
		ns.Labels = map[string]string{jack.LabelInjection: jack.InjectionEnabled}
	}
	return ns
}

func signingKey(ns, name string) *authv1alpha1.SigningKey {
	return &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func jackPod(ns, name string, labels, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1"}}},
	}
}

func injectedPod(ns, name, version string) *corev1.Pod {
	p := jackPod(ns, name, map[string]string{jack.LabelInject: jack.InjectRequested}, map[string]string{jack.AnnotationInjectedVersion: version})
	always := corev1.ContainerRestartPolicyAlways
	p.Spec.InitContainers = []corev1.Container{{Name: jack.SidecarContainerName, Image: "jack-auth:" + version, RestartPolicy: &always}}
	return p
}

func deployment(ns, name string, labels, annotations map[string]string) *appsv1.Deployment {
	sel := map[string]string{"app": name}
	all := map[string]string{"app": name}
	for k, v := range labels {
		all[k] = v
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: all, Annotations: annotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1"}}},
			},
		},
	}
}

var optIn = map[string]string{jack.LabelInject: jack.InjectRequested}

func TestExplain(t *testing.T) {
	ctx := context.Background()
	create := func(t *testing.T, objs ...client.Object) {
		t.Helper()
		for _, o := range objs {
			if err := k8s.Create(ctx, o); err != nil {
				t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
			}
		}
	}
	explain := func(t *testing.T, ns, target string) string {
		t.Helper()
		var out bytes.Buffer
		if err := Explain(ctx, k8s, ns, target, &out); err != nil {
			t.Fatalf("inject explain %s: %v", target, err)
		}
		return out.String()
	}
	check := func(t *testing.T, got string, want []string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("printed\n%s\nwithout %q", got, w)
			}
		}
	}

	create(t, namespace("no-operator", true), signingKey("no-operator", "jack"), jackPod("no-operator", "jack-0", optIn, nil))
	t.Run("without an operator installed, with its defaults", func(t *testing.T) {
		check(t, explain(t, "no-operator", "jack-0"), []string{"Operator:     not found (no jack-operator Deployment",
			"Decision:     inject (Injected): jack-auth sidecar of operator version (unknown) injected with SigningKey \"jack\""})
	})

	create(t, namespace("jack-system", false), operatorDeployment())
	for name, tc := range map[string]struct {
		objs   []client.Object
		target string
		want   []string
	}{
		"a labelled pod in an enabled namespace": {
			objs:   []client.Object{namespace("enabled", true), signingKey("enabled", "jack"), jackPod("enabled", "jack-0", optIn, nil)},
			target: "pod/jack-0",
			want: []string{
				"Target:       pod enabled/jack-0",
				"Operator:     deployment jack-system/jack-operator, version 0.1.0",
				"Namespace:    enabled, labels auth.jack.io/injection=enabled,kubernetes.io/metadata.name=enabled: matches the injection namespace selector auth.jack.io/injection=enabled",
				"Pod labels:   auth.jack.io/inject=true: matches the injection object selector auth.jack.io/inject=true",
				"SigningKeys:  jack",
				`Decision:     inject (Injected): jack-auth sidecar of operator version 0.1.0 injected with SigningKey "jack", proxying to Jack at 127.0.0.1:3000`,
				"Result:       will inject a pod like it; this one runs without the sidecar.",
				"so it was admitted without the webhook",
			},
		},
		"a namespace without the label": {
			objs:   []client.Object{namespace("plain", false), signingKey("plain", "jack"), jackPod("plain", "jack-0", optIn, nil)},
			target: "jack-0",
			want: []string{"Namespace:    plain, labels kubernetes.io/metadata.name=plain: does not match the injection namespace selector",
				`Result:       skip: namespace "plain" does not match the injection namespace selector auth.jack.io/injection=enabled`},
		},
		"a pod without the label": {
			objs:   []client.Object{namespace("nolabel", true), signingKey("nolabel", "jack"), jackPod("nolabel", "jack-0", nil, nil)},
			target: "pod/jack-0",
			want: []string{"Pod labels:   (none): does not match the injection object selector",
				"Result:       skip: the pod's labels do not match the injection object selector auth.jack.io/inject=true"},
		},
		"an already injected pod": {
			objs:   []client.Object{namespace("injected", true), signingKey("injected", "jack"), injectedPod("injected", "jack-0", "0.1.0")},
			target: "pod/jack-0",
			want: []string{"Injected:     auth.jack.io/injected-version=0.1.0, sidecar container present",
				"Decision:     skip (AlreadyInjected)", "Result:       already injected by operator version 0.1.0\n"},
		},
		// Cases run in any order (a map): each makes its own objects.
		"a pod injected by an older operator": {
			objs:   []client.Object{namespace("older", true), signingKey("older", "jack"), injectedPod("older", "jack-old", "0.0.9")},
			target: "pod/jack-old",
			want:   []string{"Result:       already injected by operator version 0.0.9; the operator is version 0.1.0 now, so a restarted pod gets its sidecar"},
		},
		"a Deployment": {
			objs:   []client.Object{namespace("shop", true), signingKey("shop", "jack"), deployment("shop", "jack", optIn, map[string]string{jack.AnnotationMode: "forward-auth"})},
			target: "deployment/jack",
			want: []string{"Target:       deployment shop/jack: a pod of its template, as the API server admits it",
				"Pod labels:   app=jack,auth.jack.io/inject=true: matches",
				`Result:       will inject: jack-auth sidecar of operator version 0.1.0 injected with SigningKey "jack", answering forward-auth requests at /auth (dialect auto)`},
		},
		"a Deployment whose pods would be refused": {
			objs:   []client.Object{namespace("two", true), signingKey("two", "one"), signingKey("two", "other"), deployment("two", "jack", optIn, nil)},
			target: "deploy/jack",
			want:   []string{"SigningKeys:  one, other", "Decision:     refuse (AmbiguousSigningKey)", "Result:       refuse: the API server will refuse its pods: namespace \"two\" has 2 SigningKeys"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			create(t, tc.objs...)
			ns := ""
			for _, o := range tc.objs {
				ns = o.GetNamespace()
			}
			check(t, explain(t, ns, tc.target), tc.want)
		})
	}

	t.Run("the operator's own selectors decide", func(t *testing.T) {
		op := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "jack-system", Name: "jack-operator"}, op); err != nil {
			t.Fatal(err)
		}
		op.Spec.Template.Spec.Containers[0].Args = operatorDeployment(`--injection-object-selector={"matchLabels":{"app":"jack"}}`).Spec.Template.Spec.Containers[0].Args
		if err := k8s.Update(ctx, op); err != nil {
			t.Fatal(err)
		}
		create(t, namespace("custom", true), signingKey("custom", "jack"), deployment("custom", "jack", nil, nil))
		check(t, explain(t, "custom", "deployment/jack"), []string{"Pod labels:   app=jack: matches the injection object selector app=jack", "Result:       will inject"})
	})
	t.Run("a target of another kind", func(t *testing.T) {
		if err := Explain(ctx, k8s, "shop", "service/jack", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `not "service/jack"`) {
			t.Errorf("explaining a Service: %v", err)
		}
		if err := Explain(ctx, k8s, "shop", "pod/nope", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q not found", "nope")) {
			t.Errorf("explaining a missing pod: %v", err)
		}
	})
}
