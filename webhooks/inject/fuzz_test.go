package inject

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

// FuzzAnnotations feeds any annotation values to Decide: it never panics, a
// refusal is one line, and an injection always builds a pod whose sidecar
// requests no more than its limits and whose --forward-auth and
// --trusted-proxies are values the sidecar's flags take.
func FuzzAnnotations(f *testing.F) {
	f.Add("proxy", "3000", "10m", "", "32Mi", "128Mi", "blue", "true", "auto", "10.0.0.0/8")
	f.Add("forward-auth", "8000", "1", "2", "1Gi", "2Gi", "", "true", "nginx", "192.168.1.7, fd00::/8")
	f.Add("Proxy", "-1", "1e3", "0", "0.5", "1Ei", "green", "yes", "Traefik", "10.0.0.0/33")
	f.Add("", "65536", "1m ", "\n", "9999999999999999999999Ei", "-1", " blue\n", "false", "", ",")
	f.Add("forward-auth", "3000", "10m", "", "32Mi", "128Mi", "blue", "true", "envoy\n", "fe80::1%eth0,::ffff:10.0.0.1,gateway")
	f.Fuzz(func(t *testing.T, mode, port, cpuReq, cpuLim, memReq, memLim, key, inject, dialect, proxies string) {
		pod := jackPod(labelled(jack.LabelInject, inject), annotated(
			jack.AnnotationMode, mode,
			jack.AnnotationUpstreamPort, port,
			jack.AnnotationSidecarCPURequest, cpuReq,
			jack.AnnotationSidecarCPULimit, cpuLim,
			jack.AnnotationSidecarMemoryRequest, memReq,
			jack.AnnotationSidecarMemoryLimit, memLim,
			jack.AnnotationSigningKey, key,
			jack.AnnotationForwardAuth, dialect,
			jack.AnnotationTrustedProxies, proxies,
		))
		cfg := testConfig()
		d := Decide(pod, enabledNamespace(), []string{"blue", "green"}, cfg)
		if d.Message == "" || strings.ContainsAny(d.Message, "\r\n") {
			t.Fatalf("message %q is not one line", d.Message)
		}
		if Reasons()[d.Reason] != d.Action {
			t.Fatalf("reason %s with action %s", d.Reason, d.Action)
		}
		if d.Action != Inject {
			return
		}
		if err := Mutate(pod, d, cfg); err != nil {
			t.Fatalf("Mutate after %s: %v", d, err)
		}
		c := sidecarOf(t, pod)
		var forwardAuth, trusted int
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--forward-auth="); ok {
				forwardAuth++
				if !slices.Contains(jack.ForwardAuthDialects, jack.ForwardAuthDialect(v)) {
					t.Fatalf("--forward-auth=%q is not a dialect", v)
				}
			}
			if v, ok := strings.CutPrefix(a, "--trusted-proxies="); ok {
				trusted++
				for _, p := range strings.Split(v, ",") {
					if _, err := netip.ParsePrefix(p); err != nil {
						if _, err := netip.ParseAddr(p); err != nil {
							t.Fatalf("--trusted-proxies=%q has %q, neither an address nor a CIDR", v, p)
						}
					}
				}
			}
		}
		// Both annotations are always set here, and an empty list is refused.
		if forwardAuth != 1 || trusted != 1 {
			t.Fatalf("args %q: want --forward-auth and --trusted-proxies once each", c.Args)
		}
		r := c.Resources
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := r.Requests[name]
			lim, hasLim := r.Limits[name]
			if hasReq && hasLim && req.Cmp(lim) > 0 {
				t.Fatalf("%s request %s above limit %s", name, req.String(), lim.String())
			}
		}
	})
}
