package inject

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

const (
	testNamespace = "shop"
	testVersion   = "v1.2.3"
)

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Image = "registry.example.com/jack-auth:" + testVersion
	cfg.Version = testVersion
	cfg.OperatorNamespace = "jack-system"
	cfg.NativeSidecars = true
	return cfg
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func enabledNamespace() *corev1.Namespace {
	return namespace(testNamespace, map[string]string{jack.LabelInjection: jack.InjectionEnabled})
}

// jackPod is a Deployment's pod as the API server admits it: opted in, Jack
// on port 3000, one volume of its own, one init container.
func jackPod(mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "jack-7d9f8c6b5-",
			Namespace:    testNamespace,
			Labels:       map[string]string{"app": "jack", jack.LabelInject: jack.InjectRequested},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{
				Name:         "migrate",
				Image:        "jack:1.0",
				Args:         []string{"migrate"},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Containers: []corev1.Container{{
				Name:         "jack",
				Image:        "jack:1.0",
				Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 3000, Protocol: corev1.ProtocolTCP}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes:       []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			RestartPolicy: corev1.RestartPolicyAlways,
		},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func annotated(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func labelled(k, v string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Labels[k] = v }
}

func unlabelled(k string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { delete(p.Labels, k) }
}

// injected decides and mutates, failing the test unless the pod is injected.
func injected(t *testing.T, pod *corev1.Pod, keys []string, cfg Config) Decision {
	t.Helper()
	d := Decide(pod, enabledNamespace(), keys, cfg)
	if d.Action != Inject {
		t.Fatalf("Decide = %s, want inject", d)
	}
	if err := Mutate(pod, d, cfg); err != nil {
		t.Fatalf("Mutate: %v", err)
	}
	return d
}

// sidecarOf returns the injected container, failing unless there is exactly one.
func sidecarOf(t *testing.T, pod *corev1.Pod) *corev1.Container {
	t.Helper()
	var found []*corev1.Container
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == jack.SidecarContainerName {
				found = append(found, &cs[i])
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("the pod has %d jack-auth containers, want 1", len(found))
	}
	return found[0]
}

func volumeByName(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}
