package inject

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

// Action is what the webhook does with a pod. Its values are short and fixed,
// for a metric label.
type Action string

const (
	// Inject: add the sidecar (Mutate) and admit the pod.
	Inject Action = "inject"
	// Skip: admit the pod unchanged; it is not the webhook's to inject.
	Skip Action = "skip"
	// Refuse: deny admission with Decision.Message. The pod asked for the
	// sidecar and cannot have it; admitting it without one would run Jack
	// without the authentication it asked for.
	Refuse Action = "refuse"
)

// Reason says why, in one CamelCase word: an event reason and a metric label,
// from a fixed set (Reasons).
type Reason string

// Reasons of Inject.
const (
	// ReasonInjected: the sidecar was added (or, on a pod injected by another
	// operator version, replaced).
	ReasonInjected Reason = "Injected"
)

// Reasons of Skip.
const (
	// ReasonProtectedNamespace: kube-system, kube-public, kube-node-lease and
	// the operator's own namespace are never injected.
	ReasonProtectedNamespace Reason = "ProtectedNamespace"
	// ReasonNamespaceNotEnabled: the namespace does not match the injection
	// namespace selector (by default: it lacks LabelInjection=enabled).
	ReasonNamespaceNotEnabled Reason = "NamespaceNotEnabled"
	// ReasonNotOptedIn: the pod does not match the injection object
	// selector (by default: it lacks LabelInject=true), or declines with
	// LabelInject=false.
	ReasonNotOptedIn Reason = "NotOptedIn"
	// ReasonAlreadyInjected: this operator version already injected the pod
	// (a reinvocation, or a second webhook pass).
	ReasonAlreadyInjected Reason = "AlreadyInjected"
)

// Reasons of Refuse.
const (
	// ReasonInvalidLabel: LabelInject has a value other than "true" or "false".
	ReasonInvalidLabel Reason = "InvalidLabel"
	// ReasonNameConflict: the pod already has a container named jack-auth, a
	// volume with one of the sidecar's volume names, or a port with one of
	// its port names, which the webhook did not add.
	ReasonNameConflict Reason = "NameConflict"
	// ReasonHostNetwork: the pod uses the node's network, where the sidecar's
	// ports and Jack's localhost port would be the node's.
	ReasonHostNetwork Reason = "HostNetwork"
	// ReasonInvalidAnnotation: an override annotation does not parse or
	// contradicts another setting.
	ReasonInvalidAnnotation Reason = "InvalidAnnotation"
	// ReasonPortConflict: a container of the pod declares one of the
	// sidecar's port numbers.
	ReasonPortConflict Reason = "PortConflict"
	// ReasonNativeSidecarsUnavailable: the pod runs to completion (its
	// restartPolicy is not Always) and the cluster has no native sidecars, so
	// a regular sidecar container would keep it running forever.
	ReasonNativeSidecarsUnavailable Reason = "NativeSidecarsUnavailable"
	// ReasonNoSigningKey: the namespace has no SigningKey.
	ReasonNoSigningKey Reason = "NoSigningKey"
	// ReasonAmbiguousSigningKey: the namespace has several SigningKeys and
	// the pod names none.
	ReasonAmbiguousSigningKey Reason = "AmbiguousSigningKey"
	// ReasonSigningKeyNotFound: AnnotationSigningKey names a SigningKey that
	// does not exist in the namespace.
	ReasonSigningKeyNotFound Reason = "SigningKeyNotFound"
)

// Reasons lists every Reason with its Action, so a metric can start every
// series at zero.
func Reasons() map[Reason]Action {
	return map[Reason]Action{
		ReasonInjected:                  Inject,
		ReasonProtectedNamespace:        Skip,
		ReasonNamespaceNotEnabled:       Skip,
		ReasonNotOptedIn:                Skip,
		ReasonAlreadyInjected:           Skip,
		ReasonInvalidLabel:              Refuse,
		ReasonNameConflict:              Refuse,
		ReasonHostNetwork:               Refuse,
		ReasonInvalidAnnotation:         Refuse,
		ReasonPortConflict:              Refuse,
		ReasonNativeSidecarsUnavailable: Refuse,
		ReasonNoSigningKey:              Refuse,
		ReasonAmbiguousSigningKey:       Refuse,
		ReasonSigningKeyNotFound:        Refuse,
	}
}

// Decision is Decide's verdict on one pod, and the report of it: Action and
// Reason label a metric; Reason and Message make an event (see EventType);
// a Refuse's Message is the admission denial a user reads.
type Decision struct {
	Action Action
	Reason Reason
	// Message is a sentence for people: for a Refuse, what is wrong and what
	// to change; for a Skip, why; for an Inject, what was chosen. It never
	// holds a secret, and quotes at most a short prefix of any value the
	// pod sets.
	Message string

	// The rest is set for Inject only: what Mutate builds.

	// SigningKey is the SigningKey whose ring the sidecar mounts.
	SigningKey string
	// Mode, UpstreamPort, ForwardAuth, TrustedProxies and Resources are the
	// configuration's, after the pod's annotations.
	Mode           jack.SidecarMode
	UpstreamPort   int32
	ForwardAuth    jack.ForwardAuthDialect
	TrustedProxies []string
	Resources      corev1.ResourceRequirements
}

// EventType is the type of the event to record for d: Normal for an
// injection, Warning for a refusal, and "" for a skip, which is counted but
// not recorded (most pods in a cluster are skipped).
func (d Decision) EventType() string {
	switch d.Action {
	case Inject:
		return corev1.EventTypeNormal
	case Refuse:
		return corev1.EventTypeWarning
	}
	return ""
}

// String is the decision for a log line.
func (d Decision) String() string {
	return string(d.Action) + " (" + string(d.Reason) + "): " + d.Message
}
