package inject

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestTheDefaultsNeedOnlyTheOperatorsVersionAndNamespace(t *testing.T) {
	err := DefaultConfig().Validate()
	if err == nil {
		t.Fatal("DefaultConfig validates without a version and a namespace")
	}
	for _, s := range []string{"version is required", "namespace is required"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not say %q", err, s)
		}
	}
	if err := testConfig().Validate(); err != nil {
		t.Errorf("the defaults with a version and a namespace: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		change func(*Config)
		says   string
	}{
		"an empty image":                    {func(c *Config) { c.Image = "" }, "the sidecar image is required"},
		"an image with a space":             {func(c *Config) { c.Image = "jack auth" }, "white space"},
		"an unknown pull policy":            {func(c *Config) { c.ImagePullPolicy = "Sometimes" }, "pull policy"},
		"an unknown mode":                   {func(c *Config) { c.Mode = "sidecar" }, "default sidecar mode"},
		"a port out of range":               {func(c *Config) { c.Port = 0 }, "sidecar port 0"},
		"the same port twice":               {func(c *Config) { c.MetricsPort = c.Port }, "must differ"},
		"an upstream port the sidecar's":    {func(c *Config) { c.UpstreamPort = c.MetricsPort }, "upstream port 9090"},
		"a request above its limit":         {func(c *Config) { c.Resources.Requests[corev1.ResourceMemory] = resource.MustParse("1Gi") }, "memory request 1Gi is more than its limit 128Mi"},
		"a zero limit":                      {func(c *Config) { c.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("0") }, "more than zero"},
		"a probe that never runs":           {func(c *Config) { c.Readiness.PeriodSeconds = 0 }, "readiness probe"},
		"root":                              {func(c *Config) { c.RunAsUser = 0 }, "never runs as root"},
		"a policy ConfigMap name with caps": {func(c *Config) { c.PolicyConfigMap = "Jack_Policy" }, "not a valid name"},
		"an unknown dialect":                {func(c *Config) { c.ForwardAuth = "haproxy" }, `forward-auth dialect "haproxy" must be "auto", "nginx", "traefik" or "envoy"`},
		"no dialect":                        {func(c *Config) { c.ForwardAuth = "" }, "forward-auth dialect"},
		"a trusted proxy by host name":      {func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "gateway"} }, `trusted proxy "gateway" is neither an address nor a CIDR`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Resources = *cfg.Resources.DeepCopy()
			tc.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Validate = %v, want it to say %q", err, tc.says)
			}
		})
	}
}

func TestTheDefaultSecretNameFollowsTheSigningKeyConvention(t *testing.T) {
	if got := testConfig().secretName("blue"); got != "blue-jwt" {
		t.Errorf("secret name %q, want blue-jwt", got)
	}
}
