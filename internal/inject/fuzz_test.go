package inject

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

// FuzzAnnotations feeds any annotation values to Decide: it never panics, a
// refusal is one line, and an injection always builds a pod whose sidecar
// requests no more than its limits.
func FuzzAnnotations(f *testing.F) {
	f.Add("proxy", "3000", "10m", "", "32Mi", "128Mi", "blue", "true")
	f.Add("forward-auth", "8000", "1", "2", "1Gi", "2Gi", "", "true")
	f.Add("Proxy", "-1", "1e3", "0", "0.5", "1Ei", "green", "yes")
	f.Add("", "65536", "1m ", "\n", "9999999999999999999999Ei", "-1", " blue\n", "false")
	f.Fuzz(func(t *testing.T, mode, port, cpuReq, cpuLim, memReq, memLim, key, inject string) {
		pod := jackPod(labelled(jack.LabelInject, inject), annotated(
			jack.AnnotationMode, mode,
			jack.AnnotationUpstreamPort, port,
			jack.AnnotationSidecarCPURequest, cpuReq,
			jack.AnnotationSidecarCPULimit, cpuLim,
			jack.AnnotationSidecarMemoryRequest, memReq,
			jack.AnnotationSidecarMemoryLimit, memLim,
			jack.AnnotationSigningKey, key,
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
		r := sidecarOf(t, pod).Resources
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := r.Requests[name]
			lim, hasLim := r.Limits[name]
			if hasReq && hasLim && req.Cmp(lim) > 0 {
				t.Fatalf("%s request %s above limit %s", name, req.String(), lim.String())
			}
		}
	})
}
