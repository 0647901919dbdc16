package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/app"
	"github.com/jack-io/jack-operator/webhooks/inject"
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

// TestTheSidecarTakesTheGatewayAnnotationsTheWebhookAdmits: a dialect or a
// list of trusted proxies that the webhook admits is one the sidecar's own
// flags take (else the pod would crash-loop), and one the sidecar refuses is
// refused at admission (where the user sees why).
func TestTheSidecarTakesTheGatewayAnnotationsTheWebhookAdmits(t *testing.T) {
	var values []struct{ dialect, proxies string }
	for _, d := range jack.ForwardAuthDialects {
		values = append(values, struct{ dialect, proxies string }{string(d), "10.0.0.0/8"})
	}
	for _, d := range []string{"", "Auto", "NGINX", "haproxy", " envoy", "nginx,traefik"} {
		values = append(values, struct{ dialect, proxies string }{d, "10.0.0.0/8"})
	}
	for _, p := range []string{
		"10.0.0.0/8", "192.168.1.7", "10.1.2.3/8", "fd00::/8", "::1", "::ffff:10.0.0.1", "::ffff:10.0.0.0/104",
		"fe80::1%eth0", "10.0.0.0/8, 192.168.0.0/16", "10.0.0.0/8,,fd00::/8",
		"10.0.0.0/33", "10.0.0.0/-1", "fe80::1%eth0/64", "10.0.0", "010.0.0.1", "gateway", "*", "0/0", "10.0.0.0 /8",
	} {
		values = append(values, struct{ dialect, proxies string }{"auto", p})
	}
	for _, v := range values {
		annotations := map[string]string{
			jack.AnnotationMode:           string(jack.SidecarModeForwardAuth),
			jack.AnnotationForwardAuth:    v.dialect,
			jack.AnnotationTrustedProxies: v.proxies,
		}
		cfg := inject.DefaultConfig()
		cfg.Image, cfg.Version, cfg.OperatorNamespace, cfg.NativeSidecars = "jack-auth:test", "test", "jack-system", true
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{jack.LabelInjection: jack.InjectionEnabled}}}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop",
				Labels: map[string]string{jack.LabelInject: jack.InjectRequested}, Annotations: annotations},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1"}}},
		}
		d := inject.Decide(pod, ns, []string{"jack"}, cfg)
		admitted := d.Action == inject.Inject

		// What the sidecar makes of the values as the webhook would pass them.
		var o app.Options
		fs := flag.NewFlagSet("jack-auth", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.AddFlags(fs)
		args := []string{"--forward-auth=" + strings.TrimSpace(v.dialect), "--trusted-proxies=" + v.proxies}
		if admitted {
			if err := inject.Mutate(pod, d, cfg); err != nil {
				t.Fatalf("%q: %v", v, err)
			}
			args = pod.Spec.InitContainers[0].Args[1:]
		}
		err := fs.Parse(args)
		if err == nil {
			_, err = o.Complete()
		}
		switch {
		case admitted && err != nil:
			t.Errorf("dialect %q, trusted proxies %q: the webhook admits the pod, the sidecar refuses %q: %v", v.dialect, v.proxies, args, err)
		case !admitted && err == nil && strings.TrimSpace(strings.ReplaceAll(v.proxies, ",", "")) != "":
			t.Errorf("dialect %q, trusted proxies %q: the sidecar takes them, the webhook refuses the pod: %s", v.dialect, v.proxies, d)
		}
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
