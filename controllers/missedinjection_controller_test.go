package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// The detector runs as in the operator: in a manager of its own whose cache
// holds the pods the object selector selects, trimmed (CacheByObject),
// recording events through the API server. This suite's webhook injects
// pods in namespaces labelled for injection, so a pod created before its
// namespace was labelled is the unprotected pod a cluster can end up with.
func TestAPodRunningWithoutItsSidecarRaisesAnEventAndTheMetric(t *testing.T) {
	ctx := context.Background()
	ns := injectionNamespace(t, false, "jack")
	startDetector(t, ns)

	bare := jackPod(ns, "created-before-the-label", true)
	if err := createPod(t, bare); err != nil {
		t.Fatal(err)
	}
	if sidecarContainer(bare) != nil {
		t.Fatal("the webhook injected a pod in a namespace not labelled for injection")
	}
	setRunning(t, bare)

	// Not labelled yet: the pod is not meant to have the sidecar.
	time.Sleep(500 * time.Millisecond)
	if got := missingMetric(ns); got != 0 {
		t.Fatalf("jack_pods_missing_sidecar{namespace=%q} = %v before the namespace asks for injection", ns, got)
	}

	// The namespace is labelled: the pod now asks for the sidecar and runs without it.
	nsObj := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	metav1.SetMetaDataLabel(&nsObj.ObjectMeta, jack.LabelInjection, jack.InjectionEnabled)
	if err := k8s.Update(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	// A pod injected in the labelled namespace is not missing anything.
	injectedOne := jackPod(ns, "injected", true)
	if err := createPod(t, injectedOne); err != nil {
		t.Fatal(err)
	}
	if sidecarContainer(injectedOne) == nil {
		t.Fatal("the webhook did not inject a pod in a labelled namespace")
	}
	setRunning(t, injectedOne)

	ev := waitForEvent(t, ns, bare.Name)
	if ev.Type != corev1.EventTypeWarning || ev.Reason != ReasonSidecarMissing {
		t.Errorf("event %s %s, want Warning %s", ev.Type, ev.Reason, ReasonSidecarMissing)
	}
	for _, says := range []string{"runs without it", "would inject it now", "restart the pod"} {
		if !strings.Contains(ev.Note, says) {
			t.Errorf("the event says %q, nothing about %q", ev.Note, says)
		}
	}
	poll.True(t, 10*time.Second, "jack_pods_missing_sidecar counts the bare pod, not the injected one", func() bool { return missingMetric(ns) == 1 })
	var evs eventsv1.EventList
	if err := k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.Reason == ReasonSidecarMissing && e.Regarding.Name == injectedOne.Name {
			t.Errorf("the injected pod got a %s event: %s", ReasonSidecarMissing, e.Note)
		}
	}

	// Restarting the pod, as the event says, clears the count.
	if err := k8s.Delete(ctx, bare); err != nil {
		t.Fatal(err)
	}
	poll.True(t, 10*time.Second, "jack_pods_missing_sidecar is 0 once the bare pod is deleted", func() bool { return missingMetric(ns) == 0 })
}

// A pod the webhook would refuse is missing its sidecar too, and the event
// says what to fix: here, no SigningKey in the namespace.
func TestTheEventSaysWhyTheWebhookWouldRefuseThePod(t *testing.T) {
	ns := injectionNamespace(t, false)
	startDetector(t, ns)
	bare := jackPod(ns, "no-key", true)
	if err := createPod(t, bare); err != nil {
		t.Fatal(err)
	}
	setRunning(t, bare)
	nsObj := &corev1.Namespace{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	metav1.SetMetaDataLabel(&nsObj.ObjectMeta, jack.LabelInjection, jack.InjectionEnabled)
	if err := k8s.Update(context.Background(), nsObj); err != nil {
		t.Fatal(err)
	}
	ev := waitForEvent(t, ns, bare.Name)
	for _, says := range []string{"would refuse it", string(inject.ReasonNoSigningKey), "create a SigningKey"} {
		if !strings.Contains(ev.Note, says) {
			t.Errorf("the event says %q, nothing about %q", ev.Note, says)
		}
	}
}

// startDetector runs a MissedInjectionReconciler in a manager of its own,
// caching ns only, until the test ends.
func startDetector(t *testing.T, ns string) {
	t.Helper()
	cfg := inject.DefaultConfig()
	cfg.Image, cfg.Version, cfg.OperatorNamespace, cfg.NativeSidecars = "jack-auth:test", "test", "jack-system", true
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Each test runs a detector of its own in this one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{ByObject: CacheByObjectFor(cfg.PodSelector()), DefaultNamespaces: map[string]cache.Config{ns: {}}},
		NewCache:   NewCache,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&MissedInjectionReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("missed-injection"), Config: cfg,
	}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("the detector's manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the detector's cache did not sync")
	}
}

// setRunning reports the pod running, as a kubelet would.
func setRunning(t *testing.T, p *corev1.Pod) {
	t.Helper()
	p.Status.Phase = corev1.PodRunning
	if err := k8s.Status().Update(context.Background(), p); err != nil {
		t.Fatalf("setting pod %s running: %v", p.Name, err)
	}
}

func missingMetric(ns string) float64 {
	return testutil.ToFloat64(podsMissingSidecar.WithLabelValues(ns))
}

// waitForEvent waits for the SidecarMissing event on a pod, as kubectl
// describe pod lists it.
func waitForEvent(t *testing.T, ns, pod string) eventsv1.Event {
	t.Helper()
	var found *eventsv1.Event
	poll.Until(t, 15*time.Second, "a "+ReasonSidecarMissing+" event on pod "+pod, func() error {
		var evs eventsv1.EventList
		if err := k8s.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for i, e := range evs.Items {
			if e.Regarding.Kind == "Pod" && e.Regarding.Name == pod && e.Reason == ReasonSidecarMissing {
				found = &evs.Items[i]
				return nil
			}
		}
		return fmt.Errorf("%d events, none of them", len(evs.Items))
	})
	return *found
}
