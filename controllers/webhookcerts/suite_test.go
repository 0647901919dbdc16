package webhookcerts

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// The suite runs a real kube-apiserver and etcd with the project's webhook
// configurations installed (testenv.WithWebhooks), pointed at
// https://127.0.0.1:<env.Webhook.Port> with envtest's own caBundle. Each test
// starts its own operator replicas (see harness_test.go), whose controller
// takes the caBundle over, and stops them when it ends; the tests run one at
// a time, since they share the webhook configurations and the port.

// The names config/webhook gives the configurations, and the operator's
// flags default to.
const (
	validatingName = "validating-webhook-configuration"
	mutatingName   = "jack-operator-pod-injection"
)

var (
	env    *testenv.Env
	k8s    client.Client // uncached
	scheme = testenv.Scheme()
	nsSeq  atomic.Int64
	// logs holds everything every replica logged, to search for leaks.
	logs testenv.Buffer
	// envtestCABundle is the caBundle envtest installed: what `kubectl
	// apply` of a manifest holding an old caBundle puts back.
	envtestCABundle []byte
	// webhookAddr is where the API server dials the webhooks.
	webhookAddr netip.Addr
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, scheme, setupSuite, testenv.WithWebhooks()))
}

// setupSuite reads what envtest installed; the tests start the replicas.
func setupSuite(e *testenv.Env) (teardown func(), err error) {
	env, k8s = e, e.Client
	if webhookAddr, err = netip.ParseAddr(env.Webhook.Host); err != nil {
		return nil, fmt.Errorf("envtest serves webhooks at %q, not an IP address: %w", env.Webhook.Host, err)
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: validatingName}, &vwc); err != nil {
		return nil, fmt.Errorf("reading the installed webhook configuration: %w", err)
	}
	envtestCABundle = vwc.Webhooks[0].ClientConfig.CABundle
	ctrl.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(os.Stderr, &logs))))
	return nil, nil
}

// testSettings are what the operator would be started with in a cluster,
// plus the address envtest's configurations dial.
func testSettings() certs.Settings {
	return certs.Settings{
		DNSNames:    ServiceDNSNames("jack-operator-webhook", "jack-system"),
		IPAddresses: []netip.Addr{webhookAddr},
	}
}

// newNamespace is a namespace where pods may opt in to injection, with the
// SigningKey the injection webhook needs; the tests keep their Secret there.
func newNamespace(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   fmt.Sprintf("webhookcerts-%d", nsSeq.Add(1)),
		Labels: map[string]string{jack.LabelInjection: jack.InjectionEnabled},
	}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	if err := k8s.Create(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: ns.Name}}); err != nil {
		t.Fatalf("creating the SigningKey the injection webhook needs: %v", err)
	}
	return ns.Name
}
