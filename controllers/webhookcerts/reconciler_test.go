package webhookcerts

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

func TestTheOperatorMakesItsCertificatesAndTheAPIServerTrustsThem(t *testing.T) {
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "webhook-certs"}
	r := startReplica(t, "only", replicaOptions{secret: key, settings: testSettings()})

	poll.Until(t, 30*time.Second, "the Secret holds certificates", func() error { _, _, err := storedBundle(key); return err })
	secret, b := mustStoredBundle(t, key)
	if secret.Type != corev1.SecretTypeTLS || secret.Labels[jack.LabelManagedBy] != jack.ManagedByValue {
		t.Errorf("the Secret is of type %s with labels %v, want a kubernetes.io/tls Secret managed by the operator", secret.Type, secret.Labels)
	}
	poll.Until(t, 10*time.Second, "every webhook's caBundle is the Secret's ca.crt", func() error { return caBundlesAre(b.CABundle()) })
	poll.Until(t, 10*time.Second, "the replica is ready", func() error { return r.serving.Checker(nil) })
	if err := servesTheSecret(r.port, key); err != nil {
		t.Fatalf("the webhook server does not present the Secret's certificate at %s: %v", env.Webhook.Host, err)
	}

	// Through the API server, which calls both webhooks over TLS with the
	// caBundle the controller published.
	waitUntilAdmitting(t, ns)
	ctx := context.Background()
	if err := k8s.Create(ctx, jackUser(ns, "alice")); err != nil {
		t.Fatalf("creating a JackUser: %v", err)
	}
	pod := optedInPod(ns, "app")
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatalf("creating an opted-in pod: %v", err)
	}
	if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Name != jack.SidecarContainerName {
		t.Errorf("the pod was admitted without the sidecar: %v", pod.Spec.InitContainers)
	}

	poll.Until(t, 10*time.Second, "the DoesNotExist event", func() error {
		return hasEvent(key, corev1.EventTypeNormal, string(certs.ReasonDoesNotExist), "")
	})
	for _, name := range []string{validatingName, mutatingName} {
		poll.Until(t, 10*time.Second, "the CABundleUpdated event of "+name, func() error {
			return hasEvent(key, corev1.EventTypeNormal, ReasonCABundleUpdated, name)
		})
	}
	if got, want := metricValue(t, MetricExpiry, map[string]string{"certificate": "ca"}), float64(b.CA().NotAfter.Unix()); got != want {
		t.Errorf("CA expiry metric = %v, want %v", got, want)
	}
	if got, want := metricValue(t, MetricExpiry, map[string]string{"certificate": "serving"}), float64(b.Serving().NotAfter.Unix()); got != want {
		t.Errorf("serving expiry metric = %v, want %v", got, want)
	}
	if metricValue(t, MetricRotations, map[string]string{"reason": string(certs.ReasonDoesNotExist)}) < 1 {
		t.Error("the Secret's creation was not counted")
	}
}
