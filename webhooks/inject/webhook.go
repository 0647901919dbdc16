package inject

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// WebhookPath is where the API server sends pods to be injected. The
// MutatingWebhookConfiguration in config/webhook/pod-injection.yaml names it.
const WebhookPath = "/mutate-v1-pod"

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=signingkeys,verbs=get;list;watch

var decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "jack_injection_decisions_total",
	Help: "Pods the injection webhook saw, by action (inject, skip, refuse) and reason.",
}, []string{"action", "reason"})

func init() {
	metrics.Registry.MustRegister(decisions)
	for reason, action := range Reasons() {
		decisions.WithLabelValues(string(action), string(reason))
	}
}

// Webhook is the pod admission handler: it reads the namespace and its
// SigningKeys, decides, and answers with the patch that adds the sidecar,
// an allowance, or a refusal that says why.
type Webhook struct {
	Reader   client.Reader
	Decoder  admission.Decoder
	Recorder events.EventRecorder
	Config   Config
}

// Handle decides about one pod.
func (w *Webhook) Handle(ctx context.Context, req admission.Request) admission.Response {
	pod := &corev1.Pod{}
	if err := w.Decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding the pod: %w", err))
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	ns := &corev1.Namespace{}
	if err := w.Reader.Get(ctx, client.ObjectKey{Name: pod.Namespace}, ns); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("reading namespace %s: %w", pod.Namespace, err))
	}
	var keys authv1alpha1.SigningKeyList
	if err := w.Reader.List(ctx, &keys, client.InNamespace(pod.Namespace)); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("listing the SigningKeys of %s: %w", pod.Namespace, err))
	}
	names := make([]string, 0, len(keys.Items))
	secrets := make(map[string]string, len(keys.Items))
	for i := range keys.Items {
		names = append(names, keys.Items[i].Name)
		secrets[keys.Items[i].Name] = keys.Items[i].SecretName()
	}
	cfg := w.Config
	cfg.SecretNameFor = func(signingKey string) string { return secrets[signingKey] }

	d := Decide(pod, ns, names, cfg)
	decisions.WithLabelValues(string(d.Action), string(d.Reason)).Inc()
	log := logf.FromContext(ctx).WithValues("namespace", pod.Namespace, "pod", podName(pod), "action", d.Action, "reason", d.Reason)
	switch d.Action {
	case Skip:
		log.V(1).Info("pod not injected")
		return admission.Allowed(d.Message)
	case Refuse:
		log.Info("pod refused", "why", d.Message)
		w.Recorder.Eventf(eventTarget(ns), nil, corev1.EventTypeWarning, string(d.Reason), "Inject", "pod %s refused: %s", podName(pod), d.Message)
		return admission.Denied(d.Message)
	}
	if err := Mutate(pod, d, cfg); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("injecting the sidecar: %w", err))
	}
	patched, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	log.V(1).Info("pod injected", "signingKey", d.SigningKey)
	w.Recorder.Eventf(eventTarget(ns), nil, corev1.EventTypeNormal, string(d.Reason), "Inject", "pod %s: %s", podName(pod), d.Message)
	return admission.PatchResponseFromRaw(req.Object.Raw, patched)
}

// eventTarget is the pod's namespace as the object an injection event is
// about, recorded in that namespace: Kubernetes files events about a
// cluster-scoped object such as a Namespace in "default", where they are
// hard to find and where an operator limited to --watch-namespaces may not
// write. An event whose object names the namespace it is recorded in is
// valid for any kind.
func eventTarget(ns *corev1.Namespace) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: ns.Name, Namespace: ns.Name, UID: ns.UID}
}

// podName names a pod that may not have a name yet (generateName).
func podName(p *corev1.Pod) string {
	switch {
	case p.Name != "":
		return p.Name
	case p.GenerateName != "":
		return p.GenerateName + "*"
	}
	return "(unnamed)"
}
