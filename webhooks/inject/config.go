package inject

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// Defaults of Config. The ports are the sidecar's own flag defaults.
const (
	DefaultImage        = "jack-auth:latest"
	DefaultPort         = 8080
	DefaultMetricsPort  = 9090
	DefaultUpstreamPort = 3000
	// DefaultRunAsUser is the sidecar's UID: distroless's "nonroot".
	DefaultRunAsUser = 65532
)

// Config is the operator-wide configuration of injection, from the operator's
// flags. Per-pod annotations override Mode, UpstreamPort, ForwardAuth,
// TrustedProxies and Resources.
type Config struct {
	// Image is the jack-auth sidecar image. Required. Its entrypoint must be
	// the jack-auth binary: the container sets only args.
	Image string
	// ImagePullPolicy of the sidecar; empty leaves the API server's default.
	ImagePullPolicy corev1.PullPolicy
	// Version is the operator's version, written in
	// AnnotationInjectedVersion. Required: it is what makes a second
	// admission pass a no-op.
	Version string
	// OperatorNamespace is the namespace the operator runs in, never
	// injected. Required.
	OperatorNamespace string
	// NativeSidecars injects the sidecar as an init container with
	// restartPolicy Always (Kubernetes 1.29 and later), so it starts before
	// Jack, stops after it, and does not keep a Job's pod from completing.
	// When false it is a regular container.
	NativeSidecars bool

	// Mode is the default SidecarMode.
	Mode jack.SidecarMode
	// UpstreamPort is the default port Jack listens on, on 127.0.0.1, in
	// proxy mode.
	UpstreamPort int32
	// ForwardAuth is the default dialect in which gateways describe the
	// original request to the sidecar's /auth (its --forward-auth).
	ForwardAuth jack.ForwardAuthDialect
	// TrustedProxies are the default addresses of the gateways in front of
	// the sidecar, CIDRs or single addresses (its --trusted-proxies); empty
	// trusts none.
	TrustedProxies []string
	// Port is the sidecar's main port (SidecarPortName), on every interface.
	Port int32
	// MetricsPort serves /metrics, /healthz and /readyz (SidecarOpsPortName).
	MetricsPort int32

	// Resources are the sidecar's default requests and limits.
	Resources corev1.ResourceRequirements
	// Readiness, Liveness and Startup time the sidecar's probes. What they
	// probe is fixed: /readyz (keys and users loaded) for readiness, and
	// /healthz (the process answers) for liveness and startup, on
	// MetricsPort. Startup is used only for a native sidecar, where it holds
	// Jack back until the sidecar listens.
	Readiness, Liveness, Startup ProbeTiming
	// RunAsUser is the sidecar's UID; never 0.
	RunAsUser int64
	// OmitRunAsUser leaves runAsUser out of the sidecar's securityContext
	// (and runAsGroup when the pod sets an fsGroup), for platforms that
	// assign UIDs, such as OpenShift's restricted-v2 SCC. runAsNonRoot stays:
	// the image's numeric USER satisfies it.
	OmitRunAsUser bool
	// ImagePullSecrets name Secrets added to every injected pod's
	// imagePullSecrets, beside the pod's own, so that the kubelet can pull
	// Image from a private registry. Each must exist in the pod's namespace.
	ImagePullSecrets []string

	// NamespaceSelector and ObjectSelector choose the pods to inject: those
	// whose namespace's labels match the one and whose own labels match the
	// other. They are the selectors of the MutatingWebhookConfiguration
	// (the chart renders both from the same values), so that the API server
	// and Decide agree on which pods need the sidecar. nil for the default,
	// DefaultNamespaceSelector and DefaultObjectSelector. See selectors.go.
	NamespaceSelector, ObjectSelector labels.Selector

	// PolicyConfigMap, when set, is the ConfigMap in the pod's namespace
	// holding the role policy (key jack.ConfigMapKeyPolicy). It is
	// mounted optional: without it the sidecar uses Jack's seed table.
	PolicyConfigMap string
	// SecretNameFor gives the key ring Secret of a SigningKey, by name. nil
	// uses the default, the name followed by "-jwt"; a webhook that has read
	// the SigningKeys passes one that honours spec.secretName.
	SecretNameFor func(signingKey string) string
}

// ProbeTiming is how often and how patiently the kubelet probes.
type ProbeTiming struct {
	InitialDelaySeconds int32
	PeriodSeconds       int32
	TimeoutSeconds      int32
	FailureThreshold    int32
}

// DefaultConfig is the configuration with every default. The caller sets
// Version and OperatorNamespace, and should set Image, whose default is a
// placeholder.
func DefaultConfig() Config {
	return Config{
		Image:        DefaultImage,
		Mode:         jack.SidecarModeProxy,
		UpstreamPort: DefaultUpstreamPort,
		ForwardAuth:  jack.ForwardAuthAuto,
		Port:         DefaultPort,
		MetricsPort:  DefaultMetricsPort,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("10m"),
				corev1.ResourceMemory: resource.MustParse("32Mi"),
			},
			// No CPU limit: throttling a login's password check makes it slow
			// for everyone; memory is bounded (128Mi: four checks at 19 MiB at once).
			Limits: corev1.ResourceList{
				corev1.ResourceMemory: resource.MustParse("128Mi"),
			},
		},
		Readiness: ProbeTiming{PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3},
		Liveness:  ProbeTiming{PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3},
		// Up to 30 s to listen; a Go binary takes well under one.
		Startup:   ProbeTiming{PeriodSeconds: 1, TimeoutSeconds: 1, FailureThreshold: 30},
		RunAsUser: DefaultRunAsUser,
	}
}

// Validate says everything wrong with c, one sentence each.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Image == "" {
		bad("the sidecar image is required: the jack-auth image to inject, such as registry.example.com/jack-auth:v0.1.0")
	} else if strings.ContainsAny(c.Image, " \t\r\n") {
		bad("the sidecar image %q must not contain white space", c.Image)
	}
	switch c.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		bad("the sidecar image pull policy %q must be Always, IfNotPresent or Never", c.ImagePullPolicy)
	}
	if c.Version == "" {
		bad("the operator version is required: it is written on every injected pod so a second admission pass changes nothing")
	}
	if c.OperatorNamespace == "" {
		bad("the operator's namespace is required, so that its own pods are never injected")
	}
	if !validMode(c.Mode) {
		bad("the default sidecar mode %q must be %q or %q", c.Mode, jack.SidecarModeProxy, jack.SidecarModeForwardAuth)
	}
	if !validDialect(c.ForwardAuth) {
		bad("the default forward-auth dialect %q must be %s", c.ForwardAuth, dialectList())
	}
	for _, p := range c.TrustedProxies {
		if !validTrustedProxy(p) {
			bad("the default trusted proxy %s is neither an address nor a CIDR such as 10.0.0.0/8", quote(p))
		}
	}
	for _, p := range []struct {
		name string
		v    int32
	}{{"sidecar port", c.Port}, {"sidecar metrics port", c.MetricsPort}, {"upstream port", c.UpstreamPort}} {
		if p.v < 1 || p.v > 65535 {
			bad("the %s %d must be from 1 to 65535", p.name, p.v)
		}
	}
	if c.Port == c.MetricsPort {
		bad("the sidecar port and metrics port must differ, both are %d", c.Port)
	}
	if c.UpstreamPort == c.Port || c.UpstreamPort == c.MetricsPort {
		bad("the upstream port %d is one of the sidecar's own ports; it must be the port Jack listens on", c.UpstreamPort)
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[name]
		lim, hasLim := c.Resources.Limits[name]
		if (hasReq && req.Sign() <= 0) || (hasLim && lim.Sign() <= 0) {
			bad("the sidecar's %s request and limit must be more than zero", name)
		} else if hasReq && hasLim && req.Cmp(lim) > 0 {
			bad("the sidecar's %s request %s is more than its limit %s", name, req.String(), lim.String())
		}
	}
	for _, p := range []struct {
		name string
		t    ProbeTiming
	}{{"readiness", c.Readiness}, {"liveness", c.Liveness}, {"startup", c.Startup}} {
		if p.t.PeriodSeconds < 1 || p.t.TimeoutSeconds < 1 || p.t.FailureThreshold < 1 || p.t.InitialDelaySeconds < 0 {
			bad("the %s probe needs a period, timeout and failure threshold of at least 1 and no negative initial delay", p.name)
		}
	}
	if c.RunAsUser <= 0 {
		bad("the sidecar's UID %d must be more than 0: the sidecar never runs as root", c.RunAsUser)
	}
	for _, s := range c.ImagePullSecrets {
		if msgs := validation.IsDNS1123Subdomain(s); len(msgs) > 0 {
			bad("the sidecar's image pull Secret %s is not a valid Secret name: %s", quote(s), strings.Join(msgs, "; "))
		}
	}
	errs = append(errs, c.validateSelectors()...)
	if c.PolicyConfigMap != "" {
		if msgs := validation.IsDNS1123Subdomain(c.PolicyConfigMap); len(msgs) > 0 {
			bad("the policy ConfigMap name %q is not a valid name: %s", c.PolicyConfigMap, strings.Join(msgs, "; "))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid injection configuration: %w", err)
	}
	return nil
}

func validMode(m jack.SidecarMode) bool {
	return m == jack.SidecarModeProxy || m == jack.SidecarModeForwardAuth
}

func validDialect(d jack.ForwardAuthDialect) bool {
	return slices.Contains(jack.ForwardAuthDialects, d)
}

// dialectList names the dialects for a message: "auto", "nginx", … or "envoy".
func dialectList() string {
	var q []string
	for _, d := range jack.ForwardAuthDialects {
		q = append(q, fmt.Sprintf("%q", d))
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// validTrustedProxy reports whether the sidecar's --trusted-proxies takes s
// as one entry: a CIDR (its host bits ignored) or a single address.
func validTrustedProxy(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// splitList splits a comma-separated list as the sidecar's list flags do:
// entries trimmed of white space, empty ones dropped.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c Config) secretName(signingKey string) string {
	if c.SecretNameFor != nil {
		return c.SecretNameFor(signingKey)
	}
	return signingKey + authv1alpha1.DefaultSecretNameSuffix
}
