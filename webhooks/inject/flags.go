package inject

import (
	"flag"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/jack-io/jack-operator/api/jack"
)

// AddFlags registers the operator's command-line flags for the injected
// sidecar on fs, with c's values as defaults; parsing them sets c. Version
// and OperatorNamespace are the operator's own and are set elsewhere.
// Validate checks the result as a whole.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Image, "sidecar-image", c.Image, "The jack-auth image the pod webhook injects.")
	fs.Func("sidecar-image-pull-policy", "The injected sidecar's imagePullPolicy: Always, IfNotPresent or Never; empty for the API server's default.", func(v string) error {
		c.ImagePullPolicy = corev1.PullPolicy(v)
		return nil
	})
	fs.BoolVar(&c.NativeSidecars, "native-sidecars", c.NativeSidecars, "Inject the sidecar as a native sidecar (an init container with restartPolicy Always, Kubernetes 1.29+); false injects a regular container.")
	fs.Func("sidecar-mode", fmt.Sprintf("How the sidecar sits in front of Jack unless a pod says otherwise (annotation %s): proxy or forward-auth (default %s).", jack.AnnotationMode, c.Mode), func(v string) error {
		c.Mode = jack.SidecarMode(v)
		return nil
	})
	int32Flag(fs, &c.UpstreamPort, "sidecar-upstream-port", fmt.Sprintf("The port Jack listens on, on 127.0.0.1, in proxy mode, unless a pod says otherwise (annotation %s).", jack.AnnotationUpstreamPort))
	fs.Func("sidecar-forward-auth", fmt.Sprintf("How gateways describe the original request to the sidecar's /auth unless a pod says otherwise (annotation %s): auto, nginx, traefik or envoy (default %s).", jack.AnnotationForwardAuth, c.ForwardAuth), func(v string) error {
		c.ForwardAuth = jack.ForwardAuthDialect(v)
		return nil
	})
	fs.Func("sidecar-trusted-proxies", fmt.Sprintf("Addresses or CIDRs of the gateways in front of the sidecar, comma-separated, may repeat, unless a pod says otherwise (annotation %s); none by default.", jack.AnnotationTrustedProxies), func(v string) error {
		c.TrustedProxies = append(c.TrustedProxies, splitList(v)...)
		return nil
	})
	int32Flag(fs, &c.Port, "sidecar-port", "The sidecar's main port (auth API, /auth, proxy), named "+jack.SidecarPortName+".")
	int32Flag(fs, &c.MetricsPort, "sidecar-metrics-port", "The sidecar's /metrics, /healthz and /readyz port, named "+jack.SidecarOpsPortName+".")
	quantityFlag(fs, &c.Resources, true, corev1.ResourceCPU, "sidecar-cpu-request", "The sidecar's CPU request; pods may override it by annotation.")
	quantityFlag(fs, &c.Resources, false, corev1.ResourceCPU, "sidecar-cpu-limit", "The sidecar's CPU limit; none by default, since throttling slows every login's password check.")
	quantityFlag(fs, &c.Resources, true, corev1.ResourceMemory, "sidecar-memory-request", "The sidecar's memory request; pods may override it by annotation.")
	quantityFlag(fs, &c.Resources, false, corev1.ResourceMemory, "sidecar-memory-limit", "The sidecar's memory limit; it gets GOMEMLIMIT at nine tenths of it and sizes its concurrent password checks (19 MiB each) from it: 128Mi runs four.")
	fs.Int64Var(&c.RunAsUser, "sidecar-run-as-user", c.RunAsUser, "The sidecar's UID; never 0.")
	fs.BoolVar(&c.OmitRunAsUser, "sidecar-omit-run-as-user", c.OmitRunAsUser, "Leave runAsUser out of the sidecar's securityContext, for platforms that assign UIDs (OpenShift's restricted-v2 SCC).")
	fs.Func("sidecar-image-pull-secrets", "Secrets, comma-separated, may repeat, added to every injected pod's imagePullSecrets for the sidecar's image; each must exist in the pod's namespace.", func(v string) error {
		c.ImagePullSecrets = append(c.ImagePullSecrets, splitList(v)...)
		return nil
	})
	c.addSelectorFlags(fs)
	fs.StringVar(&c.PolicyConfigMap, "sidecar-policy-configmap", c.PolicyConfigMap, "A ConfigMap, in each pod's namespace, holding the role policy (key "+jack.ConfigMapKeyPolicy+"); empty for Jack's seed table.")
}

func int32Flag(fs *flag.FlagSet, p *int32, name, usage string) {
	fs.Func(name, fmt.Sprintf("%s (default %d)", usage, *p), func(v string) error {
		var n int32
		if _, err := fmt.Sscan(v, &n); err != nil {
			return fmt.Errorf("%q is not a port number", v)
		}
		*p = n
		return nil
	})
}

// quantityFlag sets one request (or limit) of r; "0" or "" removes it.
func quantityFlag(fs *flag.FlagSet, r *corev1.ResourceRequirements, request bool, name corev1.ResourceName, flagName, usage string) {
	list := func() *corev1.ResourceList {
		if request {
			return &r.Requests
		}
		return &r.Limits
	}
	def := "none"
	if q, ok := (*list())[name]; ok {
		def = q.String()
	}
	fs.Func(flagName, fmt.Sprintf("%s (default %s; 0 for none)", usage, def), func(v string) error {
		l := list()
		if v == "" || v == "0" {
			delete(*l, name)
			return nil
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return fmt.Errorf("%q is not a quantity such as 100m or 64Mi", v)
		}
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = q
		return nil
	})
}
