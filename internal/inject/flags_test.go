package inject

import (
	"flag"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
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
	if d := DefaultConfig(); c.Image != d.Image || c.Mode != d.Mode || c.UpstreamPort != d.UpstreamPort || !c.Resources.Limits.Memory().Equal(*d.Resources.Limits.Memory()) {
		t.Errorf("defaults changed by registering flags: %+v", c)
	}

	c, err = parse("--sidecar-image=registry.example.com/jack-auth:v1", "--sidecar-mode=forward-auth", "--sidecar-upstream-port=8000",
		"--sidecar-memory-limit=256Mi", "--sidecar-cpu-limit=500m", "--sidecar-memory-request=0", "--sidecar-policy-configmap=jack-policy",
		"--native-sidecars=false", "--sidecar-image-pull-policy=IfNotPresent")
	if err != nil {
		t.Fatal(err)
	}
	if c.Image != "registry.example.com/jack-auth:v1" || c.Mode != "forward-auth" || c.UpstreamPort != 8000 || c.NativeSidecars ||
		c.PolicyConfigMap != "jack-policy" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("flags not applied: %+v", c)
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
		"--sidecar-mode=sideways":               `mode "sideways"`,
		"--sidecar-upstream-port=8080":          "one of the sidecar's own ports",
		"--sidecar-memory-request=1Gi":          "more than its limit",
		"--sidecar-run-as-user=0":               "never runs as root",
		"--sidecar-cpu-limit=lots":              "not a quantity",
		"--sidecar-port=http":                   "not a port number",
		"--sidecar-image-pull-policy=Sometimes": "Always, IfNotPresent or Never",
		"--sidecar-policy-configmap=Not_A_Name": "not a valid name",
	} {
		if _, err := parse(strings.Fields(args)...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want one saying %q", args, err, want)
		}
	}
}
