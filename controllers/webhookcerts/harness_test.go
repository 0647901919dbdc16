package webhookcerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers"
	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/internal/testsupport/hookclient"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// replicaOptions describe one operator replica of a test.
type replicaOptions struct {
	secret   types.NamespacedName
	settings certs.Settings
	// port is where its webhook server listens; the one the API server
	// dials unless set.
	port int
	// leaseNamespace turns leader election on, with a Lease there.
	leaseNamespace string
	// beforeWrite, if set, runs before each write of the reconciler and
	// fails the write if it returns an error.
	beforeWrite func(client.Object) error
}

// replica is one operator process of a test: a manager with the webhook
// server, the JackUser and pod webhooks, and this package's parts, as
// main.go sets them up in self mode.
type replica struct {
	name    string
	port    int
	serving *ServingCertificate
	mgr     ctrl.Manager
	// writes counts what its reconciler wrote (or tried to).
	writes atomic.Int64
	stop   func()
}

func startReplica(t *testing.T, name string, o replicaOptions) *replica {
	t.Helper()
	r := &replica{name: name, port: o.port, serving: &ServingCertificate{}}
	if r.port == 0 {
		r.port = env.Webhook.Port
	}
	opts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several managers run in one test process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: env.Webhook.Host, Port: r.port, TLSOpts: []func(*tls.Config){r.serving.ConfigureTLS},
		}),
	}
	if o.leaseNamespace != "" {
		opts.LeaderElection, opts.LeaderElectionNamespace, opts.LeaderElectionID = true, o.leaseNamespace, "webhookcerts-test"
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = ptr.To(4*time.Second), ptr.To(3*time.Second), ptr.To(500*time.Millisecond)
		opts.LeaderElectionReleaseOnCancel = true
	}
	mgr, err := ctrl.NewManager(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.mgr = mgr
	if err := controllers.IndexJackUsers(mgr.GetFieldIndexer()); err != nil {
		t.Fatal(err)
	}
	if err := controllers.SetupJackUserWebhookWithManager(mgr, mgr.GetClient()); err != nil {
		t.Fatal(err)
	}
	injectCfg := inject.DefaultConfig()
	injectCfg.Image, injectCfg.Version, injectCfg.OperatorNamespace, injectCfg.NativeSidecars = "jack-auth:test", "test", "jack-system", true
	mgr.GetWebhookServer().Register(inject.WebhookPath, &webhook.Admission{Handler: &inject.Webhook{
		Reader: mgr.GetClient(), Decoder: admission.NewDecoder(scheme), Recorder: mgr.GetEventRecorder("pod-injector"), Config: injectCfg,
	}})
	before := o.beforeWrite
	if before == nil {
		before = func(client.Object) error { return nil }
	}
	rec := &Reconciler{
		Client: &hookclient.Client{Client: mgr.GetClient(), BeforeWrite: func(obj client.Object) error {
			r.writes.Add(1)
			return before(obj)
		}},
		Secret:                          o.secret,
		Settings:                        o.settings,
		ValidatingWebhookConfigurations: []string{validatingName},
		MutatingWebhookConfigurations:   []string{mutatingName},
	}
	if err := Setup(mgr, rec, r.serving); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("replica %s stopped: %v", name, err)
		}
	}()
	stopped := false
	r.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(r.stop)
	return r
}

// leads reports whether r has been elected (or runs without election).
func (r *replica) leads() bool {
	select {
	case <-r.mgr.Elected():
		return true
	default:
		return false
	}
}

// storedBundle reads the Secret and its bundle as the API server has them.
func storedBundle(key types.NamespacedName) (*corev1.Secret, *certs.Bundle, error) {
	var s corev1.Secret
	if err := k8s.Get(context.Background(), key, &s); err != nil {
		return nil, nil, err
	}
	b, err := certs.Parse(s.Data)
	if err == nil && (b == nil || b.Serving() == nil) {
		err = errors.New("the Secret holds no serving certificate")
	}
	return &s, b, err
}

func mustStoredBundle(t *testing.T, key types.NamespacedName) (*corev1.Secret, *certs.Bundle) {
	t.Helper()
	s, b, err := storedBundle(key)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

// seedSecret stores b as if an earlier operator had.
func seedSecret(t *testing.T, key types.NamespacedName, b *certs.Bundle) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}, Type: corev1.SecretTypeTLS, Data: b.SecretData()}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// made is a bundle made by certs at at, as an operator would have.
func made(t *testing.T, prev *certs.Bundle, a certs.Action, s certs.Settings, at time.Time) *certs.Bundle {
	t.Helper()
	b, err := certs.Apply(prev, certs.Decision{Action: a}, s, at)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// liveCABundles is every webhook's caBundle of both configurations.
func liveCABundles() ([][]byte, error) {
	ctx := context.Background()
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	var m admissionregistrationv1.MutatingWebhookConfiguration
	if err := k8s.Get(ctx, client.ObjectKey{Name: validatingName}, &v); err != nil {
		return nil, err
	}
	if err := k8s.Get(ctx, client.ObjectKey{Name: mutatingName}, &m); err != nil {
		return nil, err
	}
	var out [][]byte
	for _, w := range v.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	for _, w := range m.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out, nil
}

// caBundlesAre checks that every webhook's caBundle is want.
func caBundlesAre(want []byte) error {
	bundles, err := liveCABundles()
	if err != nil {
		return err
	}
	for i, cb := range bundles {
		if !bytes.Equal(cb, want) {
			return fmt.Errorf("caBundle %d of %d is not the Secret's ca.crt", i+1, len(bundles))
		}
	}
	return nil
}

// setCABundles sets every webhook's caBundle, as `kubectl apply` of a
// manifest holding that caBundle would.
func setCABundles(t *testing.T, caBundle []byte) {
	t.Helper()
	ctx := context.Background()
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	var m admissionregistrationv1.MutatingWebhookConfiguration
	if err := k8s.Get(ctx, client.ObjectKey{Name: validatingName}, &v); err != nil {
		t.Fatal(err)
	}
	for i := range v.Webhooks {
		v.Webhooks[i].ClientConfig.CABundle = caBundle
	}
	if err := k8s.Update(ctx, &v); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Name: mutatingName}, &m); err != nil {
		t.Fatal(err)
	}
	for i := range m.Webhooks {
		m.Webhooks[i].ClientConfig.CABundle = caBundle
	}
	if err := k8s.Update(ctx, &m); err != nil {
		t.Fatal(err)
	}
}

// served is the certificate the webhook server on port presents, verified
// as the API server verifies it: against caBundle, at the address it dials.
func served(port int, caBundle []byte) (*x509.Certificate, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		return nil, errors.New("the caBundle holds no certificate")
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(env.Webhook.Host, strconv.Itoa(port)),
		&tls.Config{RootCAs: roots, ServerName: env.Webhook.Host, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// servesTheSecret checks that the server on port presents the Secret's
// serving certificate, and that the Secret's caBundle verifies it.
func servesTheSecret(port int, key types.NamespacedName) error {
	_, b, err := storedBundle(key)
	if err != nil {
		return err
	}
	c, err := served(port, b.CABundle())
	if err != nil {
		return err
	}
	if !c.Equal(b.Serving()) {
		return fmt.Errorf("the server on port %d presents serial %x, the Secret holds %x", port, c.SerialNumber, b.Serving().SerialNumber)
	}
	return nil
}

// jackUser is a valid JackUser; the validating webhook admits it.
func jackUser(ns, name string) *authv1alpha1.JackUser {
	return &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: authv1alpha1.JackUserSpec{
		Email: name + "@example.com", Name: "User " + name, Role: jack.RoleStaff,
		PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: name + "-password"}}}
}

// optedInPod asks for the sidecar; the mutating webhook injects it.
func optedInPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{jack.LabelInject: jack.InjectRequested}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1.0"}}},
	}
}

// admitBoth sends one admission through each webhook, dry-run so nothing
// is stored, and checks the pod came back injected.
func admitBoth(ctx context.Context, ns string, i int) error {
	if err := k8s.Create(ctx, jackUser(ns, fmt.Sprintf("u%d", i)), client.DryRunAll); err != nil {
		return fmt.Errorf("JackUser: %w", err)
	}
	p := optedInPod(ns, fmt.Sprintf("p%d", i))
	if err := k8s.Create(ctx, p, client.DryRunAll); err != nil {
		return fmt.Errorf("pod: %w", err)
	}
	if len(p.Spec.InitContainers) == 0 {
		return errors.New("pod: admitted without the sidecar")
	}
	return nil
}

// waitUntilAdmitting waits for the first admissions to succeed: the
// controller has published its CA, and the webhooks' caches have synced.
func waitUntilAdmitting(t *testing.T, ns string) {
	t.Helper()
	i := 0
	poll.Until(t, 60*time.Second, "admission through both webhooks", func() error {
		i++
		return admitBoth(context.Background(), ns, i)
	})
}

// secretEvents are the events on the Secret, oldest first.
func secretEvents(key types.NamespacedName) ([]eventsv1.Event, error) {
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(key.Namespace)); err != nil {
		return nil, err
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "Secret" && e.Regarding.Name == key.Name {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
	return out, nil
}

// hasEvent checks for an event of the given type and reason whose note
// contains text.
func hasEvent(key types.NamespacedName, eventType, reason, text string) error {
	evs, err := secretEvents(key)
	if err != nil {
		return err
	}
	var seen []string
	for _, e := range evs {
		if e.Type == eventType && e.Reason == reason && bytes.Contains([]byte(e.Note), []byte(text)) {
			return nil
		}
		seen = append(seen, e.Type+"/"+e.Reason)
	}
	return fmt.Errorf("no %s event %s saying %q among %v", eventType, reason, text, seen)
}

// metricValue is the value of a gauge or counter of the controller-runtime
// registry with the given labels; zero when it has not been set.
func metricValue(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			matched := 0
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
					matched++
				}
			}
			if matched != len(labels) {
				continue
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// freePort is a port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(env.Webhook.Host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
