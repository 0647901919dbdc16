package jack

// Names of the pod injection webhook's API: what a platform engineer sets on a
// Namespace or a pod (template) to get the jack-auth sidecar, the per-pod
// overrides, and what the webhook writes back. Package webhooks/inject reads
// and writes them; docs describe them. Labels select (the webhook's
// namespaceSelector and objectSelector match them, so pods that do not opt in
// never reach the webhook); annotations configure.

// Labels that turn injection on.
const (
	// LabelInjection on a Namespace, set to InjectionEnabled, lets pods in it
	// opt in to the sidecar. Any other value, or none, turns injection off
	// for the whole namespace. kube-system, kube-public, kube-node-lease and
	// the operator's own namespace are never injected, labelled or not.
	LabelInjection = "auth.jack.io/injection"
	// InjectionEnabled is the value of LabelInjection that enables injection.
	InjectionEnabled = "enabled"

	// LabelInject on a pod (in practice its workload's pod template), set to
	// InjectRequested, asks for the sidecar. It is a label, not an
	// annotation, so the webhook's objectSelector can match it: pods without
	// it are never sent to the webhook, and an unavailable webhook cannot
	// block them. "false" or no label means no sidecar; any other value is
	// refused at admission, since it is most likely a typo.
	LabelInject = "auth.jack.io/inject"
	// InjectRequested is the value of LabelInject that asks for the sidecar.
	InjectRequested = "true"
	// InjectDeclined is the value of LabelInject that explicitly declines the
	// sidecar; it means the same as no label.
	InjectDeclined = "false"
)

// Annotations a pod sets to configure its sidecar. Each overrides the
// operator's default for that pod only; a value that does not parse refuses
// the pod at admission with a message naming the annotation.
const (
	// AnnotationSigningKey names the SigningKey, in the pod's namespace, whose
	// key ring the sidecar signs and verifies with. It may be omitted when the
	// namespace has exactly one SigningKey. (The same key as LabelSigningKey,
	// which names the SigningKey a Secret belongs to: on a pod it is an
	// annotation, and means the SigningKey the pod uses.)
	AnnotationSigningKey = "auth.jack.io/signing-key"
	// AnnotationMode chooses how the sidecar sits in front of Jack: see the
	// SidecarMode values.
	AnnotationMode = "auth.jack.io/mode"
	// AnnotationUpstreamPort is the port Jack listens on, on 127.0.0.1, in
	// SidecarModeProxy: a decimal number from 1 to 65535.
	AnnotationUpstreamPort = "auth.jack.io/upstream-port"
	// AnnotationForwardAuth is how the gateway in front of the sidecar
	// describes the original request to /auth: see the ForwardAuthDialect
	// values. It matters in SidecarModeForwardAuth, where a gateway asks
	// /auth about every request; naming the gateway's dialect makes the
	// sidecar ignore the headers of every other gateway, which a client could
	// add.
	AnnotationForwardAuth = "auth.jack.io/forward-auth"
	// AnnotationTrustedProxies lists the addresses of the gateways in front
	// of the sidecar: CIDRs or single addresses, IPv4 or IPv6, separated by
	// commas, such as "10.0.0.0/8,192.168.1.7". Set, only they may ask
	// /auth, and the client address the sidecar throttles by is the one they
	// report in X-Forwarded-For. It replaces the operator's default list for
	// the pod; it may not be empty.
	AnnotationTrustedProxies = "auth.jack.io/trusted-proxies"

	// AnnotationSidecarCPURequest is the sidecar's CPU request, a quantity
	// such as "50m".
	AnnotationSidecarCPURequest = "auth.jack.io/sidecar-cpu-request"
	// AnnotationSidecarCPULimit is the sidecar's CPU limit, a quantity such
	// as "500m". By default the sidecar has none.
	AnnotationSidecarCPULimit = "auth.jack.io/sidecar-cpu-limit"
	// AnnotationSidecarMemoryRequest is the sidecar's memory request, a
	// quantity such as "64Mi".
	AnnotationSidecarMemoryRequest = "auth.jack.io/sidecar-memory-request"
	// AnnotationSidecarMemoryLimit is the sidecar's memory limit, a quantity
	// such as "256Mi". Each concurrent login's password check takes 19 MiB.
	AnnotationSidecarMemoryLimit = "auth.jack.io/sidecar-memory-limit"
)

// AnnotationInjectedVersion is written by the webhook on every pod it injects:
// the operator version that injected the sidecar. It marks the sidecar
// container and the volumes as the webhook's own, so a second admission pass
// (reinvocation) by the same version changes nothing, and a pod injected by
// another version has its sidecar replaced rather than refused as a
// conflict. Users do not set it.
const AnnotationInjectedVersion = "auth.jack.io/injected-version"

// SidecarMode is how the sidecar sits in front of Jack, the value of
// AnnotationMode.
type SidecarMode string

const (
	// SidecarModeProxy: the sidecar is a verifying reverse proxy. Clients
	// reach it on its port SidecarPortName (a Service's targetPort names it);
	// it answers the auth API, verifies and authorizes every other /api/v1/
	// request and forwards it, and everything else, to Jack on 127.0.0.1 at
	// the upstream port. Jack listens on 127.0.0.1 only.
	SidecarModeProxy SidecarMode = "proxy"
	// SidecarModeForwardAuth: the sidecar answers the auth API and /auth; a
	// proxy in front of Jack (nginx auth_request, Traefik forwardAuth, Envoy
	// ext_authz) asks /auth about each request and copies the identity
	// headers to Jack.
	SidecarModeForwardAuth SidecarMode = "forward-auth"
)

// ForwardAuthDialect is how a gateway tells the sidecar's /auth which
// request it asks about: the value of AnnotationForwardAuth and of the
// sidecar's --forward-auth flag.
type ForwardAuthDialect string

const (
	// ForwardAuthAuto takes whichever one dialect a request carries and
	// refuses a request carrying more than one. It suits trying things out;
	// name the gateway's dialect in production.
	ForwardAuthAuto ForwardAuthDialect = "auto"
	// ForwardAuthNginx: X-Original-Method with X-Original-URI (nginx
	// auth_request) or X-Original-URL (ingress-nginx).
	ForwardAuthNginx ForwardAuthDialect = "nginx"
	// ForwardAuthTraefik: X-Forwarded-Method and X-Forwarded-Uri (Traefik
	// forwardAuth).
	ForwardAuthTraefik ForwardAuthDialect = "traefik"
	// ForwardAuthEnvoy: the original path and query after /auth, with the
	// original method (Envoy ext_authz's HTTP service with path_prefix
	// /auth, Envoy Gateway, Istio, Gateway API's ExternalAuth).
	ForwardAuthEnvoy ForwardAuthDialect = "envoy"
)

// ForwardAuthDialects lists every ForwardAuthDialect, for flags and
// messages.
var ForwardAuthDialects = []ForwardAuthDialect{ForwardAuthAuto, ForwardAuthNginx, ForwardAuthTraefik, ForwardAuthEnvoy}

// Names of the injected sidecar, which Services, monitors and kubectl refer to.
const (
	// SidecarContainerName is the injected container's name. It is reserved:
	// a pod that already has a container by this name that the webhook did
	// not inject is refused.
	SidecarContainerName = "jack-auth"
	// SidecarPortName is the sidecar's main port: the auth API, /auth and, in
	// SidecarModeProxy, the proxy to Jack. A Service's targetPort names it.
	SidecarPortName = "jack-auth"
	// SidecarOpsPortName is the sidecar's port for /metrics, /healthz and
	// /readyz, for a PodMonitor or scrape configuration to name. (Port names
	// are at most 15 characters, so "jack-auth-metrics" cannot be used.)
	SidecarOpsPortName = "jack-auth-ops"
	// SidecarVolumePrefix starts the name of every volume the webhook adds, so
	// they do not collide with a pod's own; a pod that already uses one of
	// those exact names is refused.
	SidecarVolumePrefix = "jack-auth-"
)
