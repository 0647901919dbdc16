package inject

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

func TestTheOperatorFlagsSetTheSidecarDefaults(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		c := DefaultConfig()
		c.Version, c.OperatorNamespace = "v1", "jack-system"
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := parse()
	if err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	if d := DefaultConfig(); c.Image != d.Image || c.Mode != d.Mode || c.UpstreamPort != d.UpstreamPort || !c.Resources.Limits.Memory().Equal(*d.Resources.Limits.Memory()) ||
		c.ForwardAuth != jack.ForwardAuthAuto || len(c.TrustedProxies) != 0 {
		t.Errorf("defaults changed by registering flags: %+v", c)
	}

	c, err = parse("--sidecar-image=registry.example.com/jack-auth:v1", "--sidecar-mode=forward-auth", "--sidecar-upstream-port=8000",
		"--sidecar-memory-limit=256Mi", "--sidecar-cpu-limit=500m", "--sidecar-memory-request=0", "--sidecar-policy-configmap=jack-policy",
		"--native-sidecars=false", "--sidecar-image-pull-policy=IfNotPresent",
		"--sidecar-forward-auth=traefik", "--sidecar-trusted-proxies=10.0.0.0/8, 192.168.1.7", "--sidecar-trusted-proxies=fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	if c.Image != "registry.example.com/jack-auth:v1" || c.Mode != "forward-auth" || c.UpstreamPort != 8000 || c.NativeSidecars ||
		c.PolicyConfigMap != "jack-policy" || c.ImagePullPolicy != corev1.PullIfNotPresent || c.ForwardAuth != jack.ForwardAuthTraefik {
		t.Errorf("flags not applied: %+v", c)
	}
	if want := []string{"10.0.0.0/8", "192.168.1.7", "fd00::/8"}; !slices.Equal(c.TrustedProxies, want) {
		t.Errorf("trusted proxies %q, want %q: a comma-separated list that may repeat", c.TrustedProxies, want)
	}
	if q := c.Resources.Limits[corev1.ResourceMemory]; q.String() != "256Mi" {
		t.Errorf("memory limit %s", q.String())
	}
	if q := c.Resources.Limits[corev1.ResourceCPU]; q.String() != "500m" {
		t.Errorf("cpu limit %s", q.String())
	}
	if _, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
		t.Error("--sidecar-memory-request=0 left a request")
	}

	for args, want := range map[string]string{
		"--sidecar-mode=sideways":                      `mode "sideways"`,
		"--sidecar-upstream-port=8080":                 "one of the sidecar's own ports",
		"--sidecar-memory-request=1Gi":                 "more than its limit",
		"--sidecar-run-as-user=0":                      "never runs as root",
		"--sidecar-cpu-limit=lots":                     "not a quantity",
		"--sidecar-port=http":                          "not a port number",
		"--sidecar-image-pull-policy=Sometimes":        "Always, IfNotPresent or Never",
		"--sidecar-policy-configmap=Not_A_Name":        "not a valid name",
		"--sidecar-forward-auth=Nginx":                 `dialect "Nginx"`,
		"--sidecar-trusted-proxies=10.0.0.0/8,gateway": `trusted proxy "gateway"`,
	} {
		if _, err := parse(strings.Fields(args)...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want one saying %q", args, err, want)
		}
	}
}
