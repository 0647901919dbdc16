package main

import (
	"flag"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/inject"
	"github.com/jack-io/jack-operator/sidecar/internal/app"
)

// TestTheInjectedArgumentsAreOnesTheSidecarAccepts parses the arguments the
// webhook gives the sidecar with the sidecar's own flags, in both modes, so
// the two sides cannot drift apart.
func TestTheInjectedArgumentsAreOnesTheSidecarAccepts(t *testing.T) {
	for _, mode := range []jack.SidecarMode{jack.SidecarModeProxy, jack.SidecarModeForwardAuth} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := inject.DefaultConfig()
			cfg.Image, cfg.Version, cfg.OperatorNamespace, cfg.NativeSidecars = "jack-auth:test", "test", "jack-system", true
			cfg.PolicyConfigMap = "jack-policy"
			cfg.SecretNameFor = func(k string) string { return k + "-jwt" }
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{jack.LabelInjection: jack.InjectionEnabled}}}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop",
					Labels:      map[string]string{jack.LabelInject: jack.InjectRequested},
					Annotations: map[string]string{jack.AnnotationMode: string(mode)}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1"}}},
			}
			d := inject.Decide(pod, ns, []string{"jack"}, cfg)
			if d.Action != inject.Inject {
				t.Fatalf("decision: %s", d)
			}
			if err := inject.Mutate(pod, d, cfg); err != nil {
				t.Fatal(err)
			}
			sc := pod.Spec.InitContainers[0]
			var o app.Options
			fs := flag.NewFlagSet("jack-auth", flag.ContinueOnError)
			o.AddFlags(fs)
			fs.Int("v", 0, "")
			args := sc.Args
			if len(args) > 0 && args[0] == "serve" {
				args = args[1:]
			}
			if err := fs.Parse(args); err != nil {
				t.Fatalf("the sidecar refuses the injected arguments %q: %v", sc.Args, err)
			}
			c, err := o.Complete()
			if err != nil {
				t.Fatalf("the injected arguments %q do not complete: %v", sc.Args, err)
			}
			mounted := map[string]bool{}
			for _, m := range sc.VolumeMounts {
				mounted[m.MountPath] = true
			}
			for _, file := range []string{c.KeysFile, c.UsersFile, c.PolicyFile} {
				if !underAny(file, mounted) {
					t.Errorf("the sidecar is told to read %s, which no mount provides (%v)", file, mounted)
				}
			}
			if (mode == jack.SidecarModeProxy) != (c.UpstreamURL != nil) {
				t.Errorf("mode %s with upstream %v", mode, c.UpstreamURL)
			}
		})
	}
}

func underAny(file string, dirs map[string]bool) bool {
	for d := range dirs {
		if len(file) > len(d) && file[:len(d)] == d && file[len(d)] == '/' {
			return true
		}
	}
	return false
}
