package chart

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// The chart's sidecar values reach the operator as --sidecar-* flags that
// the operator's own flag set (package inject) accepts and validates.
func TestTheSidecarValuesAreFlagsTheOperatorAccepts(t *testing.T) {
	parse := func(t *testing.T, v values) inject.Config {
		t.Helper()
		cfg := inject.DefaultConfig()
		cfg.Version, cfg.OperatorNamespace = "test", namespace
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg.AddFlags(fs)
		var sidecarArgs []string
		for _, a := range containerArgs(t, find(t, render(t, v), "Deployment", "jack-operator")) {
			if strings.HasPrefix(a, "--sidecar-") || strings.HasPrefix(a, "--native-sidecars") {
				sidecarArgs = append(sidecarArgs, a)
			}
		}
		if err := fs.Parse(sidecarArgs); err != nil {
			t.Fatalf("the operator refuses the chart's sidecar flags %q: %v", sidecarArgs, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("the chart's sidecar flags %q do not validate: %v", sidecarArgs, err)
		}
		return cfg
	}

	def := parse(t, nil)
	want := inject.DefaultConfig()
	if def.Mode != want.Mode || def.UpstreamPort != want.UpstreamPort || !def.NativeSidecars ||
		def.ForwardAuth != jack.ForwardAuthAuto || len(def.TrustedProxies) != 0 ||
		!def.Resources.Requests.Cpu().Equal(*want.Resources.Requests.Cpu()) ||
		!def.Resources.Limits.Memory().Equal(*want.Resources.Limits.Memory()) {
		t.Errorf("the chart's defaults differ from the operator's: %+v", def)
	}
	if _, ok := def.Resources.Limits[corev1.ResourceCPU]; ok {
		t.Error("the chart sets a CPU limit by default")
	}

	custom := parse(t, values{"sidecar": values{
		"mode": "forward-auth", "upstreamPort": 8000, "imagePullPolicy": "IfNotPresent", "policyConfigMap": "jack-policy",
		"resources":   values{"requests": values{"cpu": "50m", "memory": "64Mi"}, "limits": values{"cpu": "1", "memory": "256Mi"}},
		"forwardAuth": "envoy", "trustedProxies": []any{"10.0.0.0/8", "192.168.1.7", "fd00::/8"},
	}})
	if custom.Mode != "forward-auth" || custom.UpstreamPort != 8000 || custom.ImagePullPolicy != corev1.PullIfNotPresent ||
		custom.PolicyConfigMap != "jack-policy" || custom.Resources.Limits.Cpu().String() != "1" || custom.Resources.Requests.Memory().String() != "64Mi" ||
		custom.ForwardAuth != jack.ForwardAuthEnvoy || !slices.Equal(custom.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.7", "fd00::/8"}) {
		t.Errorf("the chart's sidecar values did not reach the operator: %+v", custom)
	}

	for name, v := range map[string]values{
		"an unknown mode":         {"sidecar": values{"mode": "sideways"}},
		"a port out of range":     {"sidecar": values{"upstreamPort": 70000}},
		"a memory limit in words": {"sidecar": values{"resources": values{"limits": values{"memory": "lots"}}}},
		"a policy ConfigMap name": {"sidecar": values{"policyConfigMap": "Not_A_Name"}},
		"an unknown dialect":      {"sidecar": values{"forwardAuth": "haproxy"}},
		"a dialect in capitals":   {"sidecar": values{"forwardAuth": "Nginx"}},
		"proxies in one string":   {"sidecar": values{"trustedProxies": "10.0.0.0/8"}},
		"a proxy by host name":    {"sidecar": values{"trustedProxies": []any{"gateway.shop.svc"}}},
		"two proxies in one item": {"sidecar": values{"trustedProxies": []any{"10.0.0.0/8,192.168.0.0/16"}}},
	} {
		if _, err := renderErr(t, release, namespace, v); err == nil {
			t.Errorf("%s: the chart renders; want values.schema.json to refuse it", name)
		}
	}
}
