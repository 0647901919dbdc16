package inject

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/jack-io/jack-operator/api/jack"
)

// alwaysProtected are namespaces never injected whatever their labels: a
// failing webhook must never stand between the control plane and its pods.
var alwaysProtected = []string{"kube-system", "kube-public", "kube-node-lease"}

// Decide says whether pod, being created in namespace ns, gets the sidecar.
// signingKeys are the names of the SigningKeys in that namespace. It reads
// its arguments only and has no side effects.
//
// The checks run in a fixed order and the first that applies decides: the
// namespace (protected, then not enabled) and the pod's opt-in label, which
// skip; a pod this version already injected, which is skipped; then what
// keeps an opted-in pod from being injected, each a refusal: a name the
// sidecar needs is taken, host networking, annotations that do not parse, a
// port the sidecar needs is taken, a pod that runs to completion without
// native sidecars, and finally the choice of SigningKey.
//
// ns should be the pod's Namespace; nil is treated as a namespace without the
// injection label, so the pod is skipped.
func Decide(pod *corev1.Pod, ns *corev1.Namespace, signingKeys []string, cfg Config) Decision {
	nsName, nsLabels := pod.Namespace, map[string]string(nil)
	if ns != nil {
		nsName, nsLabels = ns.Name, ns.Labels
	}
	if slices.Contains(alwaysProtected, nsName) || (cfg.OperatorNamespace != "" && nsName == cfg.OperatorNamespace) {
		return skip(ReasonProtectedNamespace, "pods in namespace %q are never injected", nsName)
	}
	if sel := cfg.namespaceSelector(); !sel.Matches(labels.Set(nsLabels)) {
		return skip(ReasonNamespaceNotEnabled, "namespace %q does not match the injection namespace selector %s", nsName, describe(sel))
	}
	// auth.jack.io/inject=false declines the sidecar whatever the object
	// selector says; any value but true or false is a mistake to point out.
	switch v := pod.Labels[jack.LabelInject]; v {
	case "", jack.InjectRequested:
	case jack.InjectDeclined:
		return skip(ReasonNotOptedIn, "the pod declines the sidecar with the label %s=%s", jack.LabelInject, jack.InjectDeclined)
	default:
		return refuse(ReasonInvalidLabel, "the pod's label %s is %s; set it to %q to inject the jack-auth sidecar, or remove it",
			jack.LabelInject, quote(v), jack.InjectRequested)
	}
	if sel := cfg.PodSelector(); !sel.Matches(labels.Set(pod.Labels)) {
		return skip(ReasonNotOptedIn, "the pod's labels do not match the injection object selector %s", describe(sel))
	}

	injectedBy := pod.Annotations[jack.AnnotationInjectedVersion]
	owned := injectedBy != ""
	hasSidecar := sidecarIndex(pod.Spec.InitContainers) >= 0 || sidecarIndex(pod.Spec.Containers) >= 0
	if owned && injectedBy == cfg.Version && hasSidecar {
		return skip(ReasonAlreadyInjected, "the pod already has the jack-auth sidecar of operator version %s", cfg.Version)
	}
	if msg := nameConflict(pod, owned); msg != "" {
		return refuse(ReasonNameConflict, "%s", msg)
	}
	if pod.Spec.HostNetwork {
		return refuse(ReasonHostNetwork, "the pod uses hostNetwork, where the jack-auth sidecar's ports %d and %d and Jack's localhost port would be the node's; "+
			"run the pod without hostNetwork, or remove its label %s", cfg.Port, cfg.MetricsPort, jack.LabelInject)
	}
	s, problems := parseOverrides(pod.Annotations, cfg)
	switch len(problems) {
	case 0:
	case 1:
		return refuse(ReasonInvalidAnnotation, "%s", problems[0])
	default:
		for i := range problems {
			problems[i] = fmt.Sprintf("(%d) %s", i+1, problems[i])
		}
		return refuse(ReasonInvalidAnnotation, "%d annotations need fixing: %s", len(problems), strings.Join(problems, " "))
	}
	if msg := portConflict(pod, cfg); msg != "" {
		return refuse(ReasonPortConflict, "%s", msg)
	}
	if rp := pod.Spec.RestartPolicy; !cfg.NativeSidecars && rp != "" && rp != corev1.RestartPolicyAlways {
		return refuse(ReasonNativeSidecarsUnavailable, "the pod's restartPolicy is %s and this cluster does not run native sidecars (Kubernetes 1.29 and later), "+
			"so a jack-auth sidecar container would keep the pod from ever completing; remove the pod's label %s", rp, jack.LabelInject)
	}
	key, d := chooseSigningKey(pod, nsName, signingKeys)
	if d != nil {
		return *d
	}

	what := fmt.Sprintf("jack-auth sidecar of operator version %s injected with SigningKey %q", cfg.Version, key)
	if owned && injectedBy != cfg.Version {
		what = fmt.Sprintf("jack-auth sidecar of operator version %s replaced by version %s, with SigningKey %q", quote(injectedBy), cfg.Version, key)
	}
	if s.mode == jack.SidecarModeProxy {
		what += fmt.Sprintf(", proxying to Jack at 127.0.0.1:%d", s.upstreamPort)
	} else {
		what += fmt.Sprintf(", answering forward-auth requests at /auth (dialect %s)", s.forwardAuth)
	}
	if len(s.trustedProxies) > 0 {
		what += ", trusting the gateways at " + names(s.trustedProxies)
	}
	return Decision{
		Action:         Inject,
		Reason:         ReasonInjected,
		Message:        what,
		SigningKey:     key,
		Mode:           s.mode,
		UpstreamPort:   s.upstreamPort,
		ForwardAuth:    s.forwardAuth,
		TrustedProxies: s.trustedProxies,
		Resources:      s.resources,
	}
}

// chooseSigningKey picks the SigningKey the pod names, or the namespace's
// only one; otherwise it returns the refusal.
func chooseSigningKey(pod *corev1.Pod, ns string, signingKeys []string) (string, *Decision) {
	keys := slices.Clone(signingKeys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if named := strings.TrimSpace(pod.Annotations[jack.AnnotationSigningKey]); named != "" {
		switch {
		case slices.Contains(keys, named):
			return named, nil
		case len(keys) == 0:
			d := refuse(ReasonSigningKeyNotFound, "the pod's annotation %s names SigningKey %s, but namespace %q has no SigningKey; "+
				"create that SigningKey in %q, or remove the pod's label %s", jack.AnnotationSigningKey, quote(named), ns, ns, jack.LabelInject)
			return "", &d
		default:
			d := refuse(ReasonSigningKeyNotFound, "the pod's annotation %s names SigningKey %s, which does not exist in namespace %q; set it to one of: %s",
				jack.AnnotationSigningKey, quote(named), ns, names(keys))
			return "", &d
		}
	}
	switch len(keys) {
	case 0:
		d := refuse(ReasonNoSigningKey, "the pod asks for the jack-auth sidecar (label %s=%s) but namespace %q has no SigningKey to sign and verify its tokens; "+
			"create a SigningKey in %q, or remove the pod's label %s", jack.LabelInject, jack.InjectRequested, ns, ns, jack.LabelInject)
		return "", &d
	case 1:
		return keys[0], nil
	default:
		d := refuse(ReasonAmbiguousSigningKey, "namespace %q has %d SigningKeys (%s) and the pod does not say which one it uses; set the pod's annotation %s to one of them",
			ns, len(keys), names(keys), jack.AnnotationSigningKey)
		return "", &d
	}
}

// nameConflict describes the first container, volume or port name of the
// pod's that the sidecar needs, or returns "". On a pod the webhook injected
// before (owned), its sidecar container and volumes are its own to replace.
func nameConflict(pod *corev1.Pod, owned bool) string {
	if !owned {
		for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			if sidecarIndex(cs) >= 0 {
				return fmt.Sprintf("the pod already has a container named %q, which the injection webhook did not add; "+
					"the name is reserved for the jack-auth sidecar, so rename that container", jack.SidecarContainerName)
			}
		}
		for _, ec := range pod.Spec.EphemeralContainers {
			if ec.Name == jack.SidecarContainerName {
				return fmt.Sprintf("the pod already has an ephemeral container named %q; the name is reserved for the jack-auth sidecar", ec.Name)
			}
		}
		for _, v := range pod.Spec.Volumes {
			if slices.Contains(volumeNames, v.Name) {
				return fmt.Sprintf("the pod already has a volume named %q, which the injection webhook did not add; "+
					"the jack-auth sidecar's volumes use that name, so rename the pod's volume (names starting with %q are best left to the sidecar)",
					v.Name, jack.SidecarVolumePrefix)
			}
		}
	}
	for _, c := range appContainers(pod) {
		for _, p := range c.Ports {
			if p.Name == jack.SidecarPortName || p.Name == jack.SidecarOpsPortName {
				return fmt.Sprintf("container %q has a port named %q, a name of the jack-auth sidecar's ports; port names are unique in a pod, so rename that port",
					c.Name, p.Name)
			}
		}
	}
	return ""
}

// portConflict describes the first container that declares a TCP port the
// sidecar listens on, or returns "".
func portConflict(pod *corev1.Pod, cfg Config) string {
	for _, c := range appContainers(pod) {
		for _, p := range c.Ports {
			if (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) && (p.ContainerPort == cfg.Port || p.ContainerPort == cfg.MetricsPort) {
				return fmt.Sprintf("container %q declares port %d, which the jack-auth sidecar listens on; "+
					"move the container to another port, or change the sidecar's ports in the operator's configuration", c.Name, p.ContainerPort)
			}
		}
	}
	return ""
}

// appContainers are the pod's init and regular containers other than one
// named like the sidecar.
func appContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name != jack.SidecarContainerName {
				out = append(out, &cs[i])
			}
		}
	}
	return out
}

func sidecarIndex(cs []corev1.Container) int {
	return slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == jack.SidecarContainerName })
}

func skip(r Reason, format string, args ...any) Decision {
	return Decision{Action: Skip, Reason: r, Message: fmt.Sprintf(format, args...)}
}

func refuse(r Reason, format string, args ...any) Decision {
	return Decision{Action: Refuse, Reason: r, Message: fmt.Sprintf(format, args...)}
}
