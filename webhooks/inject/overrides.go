package inject

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/jack-io/jack-operator/api/jack"
)

// settings are what a pod's annotations may override, resolved.
type settings struct {
	mode           jack.SidecarMode
	upstreamPort   int32
	forwardAuth    jack.ForwardAuthDialect
	trustedProxies []string
	resources      corev1.ResourceRequirements
}

// resourceAnnotations are the per-pod resource overrides, in the order their
// problems are reported.
var resourceAnnotations = []struct {
	annotation string
	name       corev1.ResourceName
	limit      bool
}{
	{jack.AnnotationSidecarCPURequest, corev1.ResourceCPU, false},
	{jack.AnnotationSidecarCPULimit, corev1.ResourceCPU, true},
	{jack.AnnotationSidecarMemoryRequest, corev1.ResourceMemory, false},
	{jack.AnnotationSidecarMemoryLimit, corev1.ResourceMemory, true},
}

// parseOverrides applies a pod's annotations to the configuration's
// defaults. It reports every problem, one sentence each naming the
// annotation, so a user fixes them all at once. Values are trimmed of
// surrounding white space (a YAML block scalar ends in a newline).
func parseOverrides(annotations map[string]string, cfg Config) (settings, []string) {
	s := settings{
		mode:           cfg.Mode,
		upstreamPort:   cfg.UpstreamPort,
		forwardAuth:    cfg.ForwardAuth,
		trustedProxies: slices.Clone(cfg.TrustedProxies),
		resources:      *cfg.Resources.DeepCopy(),
	}
	var problems []string
	if v, ok := annotations[jack.AnnotationMode]; ok {
		m := jack.SidecarMode(strings.TrimSpace(v))
		if validMode(m) {
			s.mode = m
		} else {
			problems = append(problems, fmt.Sprintf("the annotation %s is %s; set it to %q or %q",
				jack.AnnotationMode, quote(v), jack.SidecarModeProxy, jack.SidecarModeForwardAuth))
		}
	}
	if v, ok := annotations[jack.AnnotationUpstreamPort]; ok {
		port, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		switch {
		case err != nil || port < 1 || port > 65535:
			problems = append(problems, fmt.Sprintf("the annotation %s is %s; set it to the port Jack listens on, a number from 1 to 65535",
				jack.AnnotationUpstreamPort, quote(v)))
		case int32(port) == cfg.Port || int32(port) == cfg.MetricsPort:
			problems = append(problems, fmt.Sprintf("the annotation %s is %d, a port the jack-auth sidecar itself listens on; set it to the port Jack listens on, on 127.0.0.1",
				jack.AnnotationUpstreamPort, port))
		default:
			s.upstreamPort = int32(port)
		}
	}
	if v, ok := annotations[jack.AnnotationForwardAuth]; ok {
		d := jack.ForwardAuthDialect(strings.TrimSpace(v))
		if validDialect(d) {
			s.forwardAuth = d
		} else {
			problems = append(problems, fmt.Sprintf("the annotation %s is %s; set it to the dialect of the gateway in front of the sidecar, %s",
				jack.AnnotationForwardAuth, quote(v), dialectList()))
		}
	}
	if v, ok := annotations[jack.AnnotationTrustedProxies]; ok {
		if msg := trustedProxiesProblem(v); msg != "" {
			problems = append(problems, msg)
		} else {
			s.trustedProxies = splitList(v)
		}
	}
	for _, r := range resourceAnnotations {
		v, ok := annotations[r.annotation]
		if !ok {
			continue
		}
		q, err := resource.ParseQuantity(strings.TrimSpace(v))
		if err != nil || q.Sign() <= 0 {
			example := map[corev1.ResourceName]string{corev1.ResourceCPU: "100m", corev1.ResourceMemory: "64Mi"}[r.name]
			problems = append(problems, fmt.Sprintf("the annotation %s is %s; set it to a quantity more than zero, such as %s",
				r.annotation, quote(v), example))
			continue
		}
		list := &s.resources.Requests
		if r.limit {
			list = &s.resources.Limits
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[r.name] = q
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := s.resources.Requests[name]
		lim, hasLim := s.resources.Limits[name]
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			reqAnn, limAnn := jack.AnnotationSidecarCPURequest, jack.AnnotationSidecarCPULimit
			if name == corev1.ResourceMemory {
				reqAnn, limAnn = jack.AnnotationSidecarMemoryRequest, jack.AnnotationSidecarMemoryLimit
			}
			problems = append(problems, fmt.Sprintf("the sidecar's %s request %s would be more than its limit %s; set the annotations %s and %s so that the request is at most the limit",
				name, req.String(), lim.String(), reqAnn, limAnn))
		}
	}
	return s, problems
}

// trustedProxiesProblem describes what is wrong with the value of
// AnnotationTrustedProxies, or returns "". An empty list is refused rather
// than read as "trust none": a template that rendered nothing should not
// silently undo the operator's default.
func trustedProxiesProblem(v string) string {
	const want = "set it to the addresses of the gateways in front of the sidecar, CIDRs or single addresses separated by commas, such as 10.0.0.0/8,192.168.1.7"
	list := splitList(v)
	if len(list) == 0 {
		return fmt.Sprintf("the annotation %s is empty; %s, or remove it for the operator's default", jack.AnnotationTrustedProxies, want)
	}
	var bad []string
	for _, p := range list {
		if !validTrustedProxy(p) {
			bad = append(bad, p)
		}
	}
	switch len(bad) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("the annotation %s lists %s, which is neither an address nor a CIDR; %s", jack.AnnotationTrustedProxies, quote(bad[0]), want)
	default:
		return fmt.Sprintf("the annotation %s lists %s and %d more entries that are neither an address nor a CIDR; %s",
			jack.AnnotationTrustedProxies, quote(bad[0]), len(bad)-1, want)
	}
}

// quote quotes a value a pod set, cut short: messages go into events and
// admission answers, which must stay readable.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// names lists names for a message, at most ten of them.
func names(list []string) string {
	const max = 10
	if len(list) <= max {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:max], ", ") + fmt.Sprintf(" and %d more", len(list)-max)
}
