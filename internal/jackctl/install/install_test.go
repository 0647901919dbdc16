package install

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestImageTag(t *testing.T) {
	for name, tc := range map[string]struct{ image, want string }{
		"a tag":                      {"ghcr.io/jack-io/jack-operator:0.1.0", "0.1.0"},
		"a tag and a digest":         {"ghcr.io/jack-io/jack-operator:0.1.0@sha256:abc", "0.1.0"},
		"a registry port and no tag": {"localhost:5000/jack-operator", ""},
		"a registry port and a tag":  {"localhost:5000/jack-operator:dev", "dev"},
		"a digest only":              {"jack-operator@sha256:abc", ""},
		"a bare name":                {"jack-operator", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := ImageTag(tc.image); got != tc.want {
				t.Errorf("ImageTag(%q) = %q, want %q", tc.image, got, tc.want)
			}
		})
	}
}

func TestTheOperatorsFlagsAreReadAsTheOperatorReadsThem(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-operator", Namespace: "ops", Labels: map[string]string{LabelVersion: "0.0.9"}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "operator", Image: "ghcr.io/jack-io/jack-operator:0.1.0",
			Args: []string{
				"--leader-elect=true", "--mutating-webhook-configuration=mine-pod-injection",
				`--injection-namespace-selector={"matchLabels":{"team":"shop"}}`, "--sidecar-upstream-port=4000", "--zap-log-level=info",
			},
		}}}}},
	}
	o, err := FromDeployment(d)
	if err != nil {
		t.Fatal(err)
	}
	if o.Version != "0.1.0" || o.Namespace() != "ops" || !o.Options.LeaderElect || o.Options.Certs.Mutating != "mine-pod-injection" {
		t.Errorf("read version %q, namespace %q, leader-elect %v, mutating %q", o.Version, o.Namespace(), o.Options.LeaderElect, o.Options.Certs.Mutating)
	}
	cfg := o.InjectConfig()
	if cfg.UpstreamPort != 4000 || cfg.NamespaceSelector.String() != "team=shop" || cfg.Version != "0.1.0" || cfg.OperatorNamespace != "ops" {
		t.Errorf("injection config: port %d, namespace selector %v, version %q, namespace %q", cfg.UpstreamPort, cfg.NamespaceSelector, cfg.Version, cfg.OperatorNamespace)
	}

	d.Spec.Template.Spec.Containers[0].Args = append(d.Spec.Template.Spec.Containers[0].Args, "--no-such-flag")
	if _, err := FromDeployment(d); err == nil {
		t.Error("arguments the operator would refuse were accepted")
	}
	d.Spec.Template.Spec.Containers[0].Args = nil
	d.Spec.Template.Spec.Containers[0].Image = "jack-operator@sha256:abc"
	if o, err := FromDeployment(d); err != nil || o.Version != "0.0.9" {
		t.Errorf("without a tag the version is the label's: %q, %v", o.Version, err)
	}
}
