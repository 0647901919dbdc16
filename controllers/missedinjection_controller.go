package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// ReasonSidecarMissing is the reason of the Warning event on a running pod
// that should carry the jack-auth sidecar and does not.
const ReasonSidecarMissing = "SidecarMissing"

// missedInjectionRequestName is the name of every request of the
// missed-injection detector, which reconciles a namespace at a time.
const missedInjectionRequestName = "missed-injection"

// DefaultMissedInjectionReport is how often a pod still running without its
// sidecar is reported again: within the hour after which the API server
// forgets an event, so kubectl describe keeps showing why.
const DefaultMissedInjectionReport = 30 * time.Minute

var podsMissingSidecar = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "jack_pods_missing_sidecar",
	Help: "Running pods, by namespace, that the injection webhook's selectors and decision say should carry the jack-auth sidecar and do not: Jack in them serves requests that nothing verified.",
}, []string{"namespace"})

func init() {
	metrics.Registry.MustRegister(podsMissingSidecar)
}

// MissedInjectionReconciler is the missed-injection detector. The webhook
// sees a pod once, when it is created; a pod can still come to run without
// the sidecar it asked for — admitted while the webhook was unreachable
// under failurePolicy Ignore, created before its namespace was labelled for
// injection, or sent nowhere because the webhook configuration was edited
// or deleted. Such a pod serves Jack with nothing verifying its requests,
// and nothing else would notice.
//
// For every running pod of a namespace that the injection object selector
// selects (the pods the operator caches) and that has no jack-auth
// container, it runs the webhook's own decision (inject.Decide) against the
// pod and its namespace as they are now. If the decision would inject the
// pod, or refuse it as one that asks for the sidecar, the pod is missing
// its sidecar: a Warning event SidecarMissing on the pod says why and what
// to do, and jack_pods_missing_sidecar counts it. A pod the decision skips
// (it declines with auth.jack.io/inject=false, its namespace does not match
// the selector, a protected namespace) is not meant to have one.
//
// It reconciles a namespace at a time: the request's namespace, named
// missedInjectionRequestName.
type MissedInjectionReconciler struct {
	client.Client
	// APIReader reads a suspect pod whole from the API server: the cache
	// holds pods trimmed (CacheByObject), without the annotations and ports
	// the decision reads. The manager's unless set.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Config is the injection webhook's configuration: its selectors,
	// ports, version and the operator's namespace.
	Config inject.Config
	Clock  clock.PassiveClock
	// ReportEvery is how often a pod still missing its sidecar is reported
	// again; DefaultMissedInjectionReport unless set.
	ReportEvery time.Duration

	// reported remembers, per namespace, when each pod found missing its
	// sidecar was last reported; a namespace is reconciled by one worker
	// at a time.
	reported sync.Map // namespace → map[types.UID]time.Time
}

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile finds one namespace's pods that run without their sidecar.
func (r *MissedInjectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, types.NamespacedName{Name: req.Namespace}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			podsMissingSidecar.DeleteLabelValues(req.Namespace)
			r.reported.Delete(req.Namespace)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading namespace %s: %w", req.Namespace, err)
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(ns.Name)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the pods of %s: %w", ns.Name, err)
	}
	if len(pods.Items) == 0 {
		// No series for the many namespaces without a pod that asks.
		podsMissingSidecar.DeleteLabelValues(ns.Name)
		r.reported.Delete(ns.Name)
		return ctrl.Result{}, nil
	}
	var keys authv1alpha1.SigningKeyList
	if err := r.List(ctx, &keys, client.InNamespace(ns.Name)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the SigningKeys of %s: %w", ns.Name, err)
	}
	cfg := r.Config
	names, secrets := make([]string, 0, len(keys.Items)), make(map[string]string, len(keys.Items))
	for i := range keys.Items {
		names = append(names, keys.Items[i].Name)
		secrets[keys.Items[i].Name] = keys.Items[i].SecretName()
	}
	cfg.SecretNameFor = func(k string) string { return secrets[k] }

	var before map[types.UID]time.Time
	if b, ok := r.reported.Load(ns.Name); ok {
		before = b.(map[types.UID]time.Time)
	}
	reported := map[types.UID]time.Time{}
	for i := range pods.Items {
		p := &pods.Items[i]
		d, err := r.missing(ctx, p, ns, names, cfg)
		if err != nil {
			return ctrl.Result{}, err
		}
		if d == nil {
			continue
		}
		reported[p.UID] = before[p.UID]
		if now := r.Clock.Now(); now.Sub(reported[p.UID]) >= r.reportEvery() {
			reported[p.UID] = now
			r.report(ctx, p, *d)
		}
	}
	r.reported.Store(ns.Name, reported)
	missing := len(reported)
	podsMissingSidecar.WithLabelValues(ns.Name).Set(float64(missing))
	if missing > 0 {
		// Report again before the events expire, and keep the count true
		// while nothing about the pods changes.
		return ctrl.Result{RequeueAfter: r.reportEvery()}, nil
	}
	return ctrl.Result{}, nil
}

// missing returns the decision about a running pod that should carry the
// sidecar and does not, or nil for any other pod.
func (r *MissedInjectionReconciler) missing(ctx context.Context, p *corev1.Pod, ns *corev1.Namespace, keys []string, cfg inject.Config) (*inject.Decision, error) {
	if p.Status.Phase != corev1.PodRunning || !p.DeletionTimestamp.IsZero() || sidecarContainer(p) != nil {
		return nil, nil
	}
	// Whether the namespace and the pod's labels call for the sidecar
	// depends only on what the cache holds; only a pod they do is read
	// whole, for the rest of the decision.
	if d := inject.Decide(p, ns, keys, cfg); d.Action == inject.Skip {
		return nil, nil
	}
	full := &corev1.Pod{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(p), full); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	if full.UID != p.UID || full.Status.Phase != corev1.PodRunning || sidecarContainer(full) != nil {
		return nil, nil
	}
	d := inject.Decide(full, ns, keys, cfg)
	if d.Action == inject.Skip {
		return nil, nil
	}
	return &d, nil
}

// report records the event on the pod.
func (r *MissedInjectionReconciler) report(ctx context.Context, p *corev1.Pod, d inject.Decision) {
	msg := MissingSidecarMessage(d)
	logf.FromContext(ctx).Info("pod runs without the jack-auth sidecar", "namespace", p.Namespace, "pod", p.Name, "decision", d.Reason)
	r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonSidecarMissing, "DetectMissedInjection", "%s", msg)
}

// MissingSidecarMessage is the event's sentence: that the pod runs
// unprotected, why the decision says it should not, and what to do.
func MissingSidecarMessage(d inject.Decision) string {
	const unprotected = "This pod asks for the jack-auth sidecar but runs without it, so nothing verifies the requests that reach Jack. "
	if d.Action == inject.Refuse {
		return unprotected + fmt.Sprintf("The injection webhook would refuse it now (%s): %s. Fix that, then restart the pod (kubectl delete pod, or kubectl rollout restart of its workload).",
			d.Reason, strings.TrimSuffix(d.Message, "."))
	}
	return unprotected + "The injection webhook would inject it now, so it was admitted without the webhook: while the webhook was unreachable under failurePolicy Ignore, " +
		"before its namespace matched the injection namespace selector, or while the MutatingWebhookConfiguration was missing or selected other pods. " +
		"Check the webhook (kubectl get mutatingwebhookconfigurations, the operator's logs and readiness), then restart the pod (kubectl delete pod, or kubectl rollout restart of its workload) so the webhook injects it."
}

func (r *MissedInjectionReconciler) reportEvery() time.Duration {
	if r.ReportEvery > 0 {
		return r.ReportEvery
	}
	return DefaultMissedInjectionReport
}

// SetupWithManager registers the detector: pods the object selector
// selects enqueue their namespace, and so does a namespace whose labels
// change (one labelled for injection after its pods started).
func (r *MissedInjectionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	selected := r.Config.PodSelector()
	toNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		ns := o.GetNamespace()
		if _, isNS := o.(*corev1.Namespace); isNS {
			ns = o.GetName()
		}
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: missedInjectionRequestName}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("missedinjection").
		Watches(&corev1.Pod{}, toNamespace, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return selected.Matches(labels.Set(o.GetLabels()))
		}))).
		Watches(&corev1.Namespace{}, toNamespace, builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Complete(r)
}
