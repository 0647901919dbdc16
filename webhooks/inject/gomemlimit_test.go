package inject

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

// TestTheInjectedGOMEMLIMITFollowsTheSidecarsMemoryLimit checks, through
// Decide and Mutate, that the sidecar's Go runtime is told nine tenths of
// the memory limit it is given — the flags' default or a pod's override —
// since the sidecar sizes its concurrent password checks from it (package
// sidecar/internal/app, memory.go).
func TestTheInjectedGOMEMLIMITFollowsTheSidecarsMemoryLimit(t *testing.T) {
	noLimit := func(c *Config) { delete(c.Resources.Limits, corev1.ResourceMemory) }
	for name, tc := range map[string]struct {
		config      func(*Config)
		annotations []string
		want        string // "" for no GOMEMLIMIT
	}{
		"the chart's default 128Mi":          {want: "120795948"},
		"a pod's 256Mi override":             {annotations: []string{jack.AnnotationSidecarMemoryLimit, "256Mi"}, want: "241591905"},
		"a pod's override in decimal units":  {annotations: []string{jack.AnnotationSidecarMemoryLimit, "200M"}, want: "180000000"},
		"a pod's override with white space":  {annotations: []string{jack.AnnotationSidecarMemoryLimit, " 64Mi\n"}, want: "60397974"},
		"no memory limit configured":         {config: noLimit},
		"an override where none is the rule": {config: noLimit, annotations: []string{jack.AnnotationSidecarMemoryLimit, "96Mi"}, want: "90596961"},
		"only a request overridden":          {annotations: []string{jack.AnnotationSidecarMemoryRequest, "64Mi"}, want: "120795948"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			if tc.config != nil {
				cfg.Resources = *cfg.Resources.DeepCopy()
				tc.config(&cfg)
			}
			pod := jackPod(annotated(tc.annotations...))
			injected(t, pod, []string{"blue"}, cfg)
			var got []string
			for _, e := range sidecarOf(t, pod).Env {
				if e.Name == "GOMEMLIMIT" {
					got = append(got, e.Value)
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("GOMEMLIMIT %v set without a memory limit", got)
			case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
				t.Errorf("GOMEMLIMIT %v, want [%s]", got, tc.want)
			}
		})
	}
}
