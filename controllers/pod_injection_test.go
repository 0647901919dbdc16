package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// These tests go through the real API server, which calls the injection
// webhook over TLS with the configuration in config/webhook/pod-injection.yaml.

func injectionNamespace(t *testing.T, enabled bool, signingKeys ...string) string {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("inject-%d", nsSeq.Add(1))}}
	if enabled {
		ns.Labels = map[string]string{jack.LabelInjection: jack.InjectionEnabled}
	}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for _, name := range signingKeys {
		if err := k8s.Create(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name}}); err != nil {
			t.Fatal(err)
		}
	}
	return ns.Name
}

func jackPod(ns, name string, optIn bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "jack", Image: "jack:1.0", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}},
		}}},
	}
	if optIn {
		p.Labels = map[string]string{jack.LabelInject: jack.InjectRequested}
	}
	return p
}

// createPod creates a pod, retrying while the webhook's cache catches up
// with a namespace or SigningKey the test has just made.
func createPod(t *testing.T, p *corev1.Pod) error {
	t.Helper()
	var err error
	for range 50 {
		attempt := p.DeepCopy()
		if err = k8s.Create(context.Background(), attempt); err == nil {
			*p = *attempt
			return nil
		}
		if !strings.Contains(err.Error(), "SigningKey") {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func TestAnOptedInPodGetsTheSidecar(t *testing.T) {
	ns := injectionNamespace(t, true, "jack")
	pod := jackPod(ns, "app", true)
	if err := createPod(t, pod); err != nil {
		t.Fatalf("creating an opted-in pod: %v", err)
	}
	if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Name != jack.SidecarContainerName {
		t.Fatalf("init containers = %v, want the jack-auth native sidecar", pod.Spec.InitContainers)
	}
	sc := pod.Spec.InitContainers[0]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("the sidecar is not a native sidecar (restartPolicy Always)")
	}
	if s := sc.SecurityContext; s == nil || s.RunAsNonRoot == nil || !*s.RunAsNonRoot || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem ||
		s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation || s.Capabilities == nil || len(s.Capabilities.Drop) != 1 ||
		s.SeccompProfile == nil || s.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("the sidecar's security context is not hardened: %+v", s)
	}
	keyRing := false
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "jack-jwt" {
			keyRing = true
		}
	}
	if !keyRing {
		t.Errorf("no volume of the key ring Secret jack-jwt: %+v", pod.Spec.Volumes)
	}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if strings.HasPrefix(m.Name, jack.SidecarVolumePrefix) {
				t.Errorf("the app container %s mounts %s; only the sidecar may", c.Name, m.Name)
			}
		}
	}
	if pod.Annotations[jack.AnnotationInjectedVersion] != "test" {
		t.Errorf("the injected annotation = %q", pod.Annotations[jack.AnnotationInjectedVersion])
	}

	// A second pass (what reinvocation or a re-applied manifest does) adds nothing.
	again := pod.DeepCopy()
	again.ObjectMeta = metav1.ObjectMeta{Name: "app-again", Namespace: ns, Labels: pod.Labels, Annotations: pod.Annotations}
	if err := k8s.Create(context.Background(), again, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if len(again.Spec.InitContainers) != 1 || len(again.Spec.Volumes) != len(pod.Spec.Volumes) || len(again.Spec.Containers) != len(pod.Spec.Containers) {
		t.Errorf("a second pass changed the pod: %d init containers, %d volumes", len(again.Spec.InitContainers), len(again.Spec.Volumes))
	}
}

func TestOtherPodsAreUntouched(t *testing.T) {
	cases := map[string]struct {
		enabled, optIn bool
	}{
		"a pod that did not opt in, in an enabled namespace": {true, false},
		"an opted-in pod in a namespace without injection":   {false, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := injectionNamespace(t, tc.enabled, "jack")
			pod := jackPod(ns, "app", tc.optIn)
			if err := k8s.Create(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
			if len(pod.Spec.InitContainers) != 0 || len(pod.Spec.Volumes) != 0 || pod.Annotations[jack.AnnotationInjectedVersion] != "" {
				t.Errorf("the pod was changed: %d init containers, %d volumes", len(pod.Spec.InitContainers), len(pod.Spec.Volumes))
			}
		})
	}
}

func TestAPodThatCannotBeInjectedIsRefusedWithItsReason(t *testing.T) {
	cases := map[string]struct {
		signingKeys []string
		annotation  string
		want        string
	}{
		"no SigningKey in the namespace":     {nil, "", "SigningKey"},
		"two SigningKeys and none named":     {[]string{"one", "two"}, "", jack.AnnotationSigningKey},
		"a named SigningKey that is missing": {[]string{"one"}, "nope", "nope"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := injectionNamespace(t, true, tc.signingKeys...)
			pod := jackPod(ns, "app", true)
			if tc.annotation != "" {
				pod.Annotations = map[string]string{jack.AnnotationSigningKey: tc.annotation}
			}
			var err error
			// The webhook's cache may not have the SigningKeys yet; the
			// refusal must settle on the right reason.
			poll.Until(t, 3*time.Second, "a refusal mentioning "+tc.want, func() error {
				err = k8s.Create(context.Background(), pod.DeepCopy())
				if err == nil {
					return errors.New("the pod was admitted")
				}
				if !strings.Contains(err.Error(), tc.want) {
					return err
				}
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), "denied the request") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("creating the pod: %v; want a refusal mentioning %q", err, tc.want)
			}
			t.Logf("refused with: %v", err)
		})
	}
}
