package selftest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Scheme(), func(e *testenv.Env) (func(), error) {
		env = e
		return nil, nil
	}))
}

const (
	ns  = "jack-system"
	svc = "jack-operator-webhook"
)

var opts = Options{Namespace: ns, Deployment: "jack-operator", WebhookService: svc,
	ValidatingWebhook: "jack-operator-validating", MutatingWebhook: "jack-operator-pod-injection",
	MinValidity: 24 * time.Hour}

// The check against a real API server holding the objects the chart
// installs, and a TLS server standing in for the webhook Service: it passes
// only when everything the API server relies on holds, and each failure
// says what is wrong.
func TestTheCheckFindsWhatWouldBreakAdmission(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ca, caPEM := newCA(t, "jack-operator webhook CA")
	otherCA, otherPEM := newCA(t, "someone else")
	server := webhookServer(t)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != svc+"."+ns+".svc:443" {
			t.Errorf("the check dialled %s, not the Service's name on 443", addr)
		}
		return (&net.Dialer{}).DialContext(ctx, "tcp", server.Listener.Addr().String())
	}
	serve := func(signer *x509.Certificate, dns string, lifetime time.Duration) {
		key := otherCA.key
		if signer == ca.cert {
			key = ca.key
		}
		server.TLS.Certificates = []tls.Certificate{leaf(t, signer, key, dns, lifetime)}
	}

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	dep := deployment()
	if err := c.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	dep.Status.Replicas, dep.Status.ReadyReplicas = 2, 2
	if err := c.Status().Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	val, mut := webhookConfigs(caPEM)
	for _, o := range []client.Object{val, mut} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	setCABundle := func(bundle []byte) {
		t.Helper()
		for _, o := range []client.Object{val, mut} {
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				t.Fatal(err)
			}
		}
		for i := range val.Webhooks {
			val.Webhooks[i].ClientConfig.CABundle = bundle
		}
		for i := range mut.Webhooks {
			mut.Webhooks[i].ClientConfig.CABundle = bundle
		}
		for _, o := range []client.Object{val, mut} {
			if err := c.Update(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}

	serve(ca.cert, svc+"."+ns+".svc", 90*24*time.Hour)
	passed, err := Check(ctx, c, opts, dial)
	if err != nil {
		t.Fatalf("a healthy install fails the check: %v", err)
	}
	if all := strings.Join(passed, "\n"); !strings.Contains(all, "2 of 2 replicas ready") || !strings.Contains(all, "caBundle verifies") {
		t.Errorf("passed checks:\n%s", all)
	}
	// Given a metrics Service, the check scrapes it too
	// (TestTheMetricsServiceAnswersWithTheOperatorsMetrics).
	withMetrics := opts
	withMetrics.MetricsService = "no-such-metrics"
	if _, err := Check(ctx, c, withMetrics, dial); err == nil || !strings.Contains(err.Error(), "reading the metrics Service "+ns+"/no-such-metrics") {
		t.Errorf("with a metrics Service that does not exist: %v", err)
	}

	failures := []struct {
		name  string
		setup func()
		says  string
	}{
		{"a certificate from another CA", func() { serve(otherCA.cert, svc+"."+ns+".svc", 90*24*time.Hour) }, "caBundle does not verify"},
		{"a certificate for another name", func() { serve(ca.cert, "elsewhere."+ns+".svc", 90*24*time.Hour) }, "not valid for " + svc + "." + ns + ".svc"},
		{"a certificate about to expire", func() { serve(ca.cert, svc+"."+ns+".svc", time.Hour) }, "sooner than 24h0m0s"},
		{"a caBundle of another CA", func() { serve(ca.cert, svc+"."+ns+".svc", 90*24*time.Hour); setCABundle(otherPEM) }, "caBundle does not verify"},
		{"no caBundle yet", func() { setCABundle(nil) }, "has no caBundle"},
		{"a replica not ready", func() {
			setCABundle(caPEM)
			dep.Status.ReadyReplicas = 1
			if err := c.Status().Update(ctx, dep); err != nil {
				t.Fatal(err)
			}
		}, "1 of 2 replicas ready"},
	}
	for _, f := range failures {
		f.setup()
		_, err := Check(ctx, c, opts, dial)
		if err == nil || !strings.Contains(err.Error(), f.says) {
			t.Errorf("%s: the check says %v; want %q", f.name, err, f.says)
		}
	}
}

func TestMissingOptionsAreNamed(t *testing.T) {
	_, err := Check(context.Background(), env.Client, Options{Namespace: ns}, nil)
	if err == nil || !strings.Contains(err.Error(), "--deployment") || !strings.Contains(err.Error(), "--webhook-service") {
		t.Errorf("err = %v", err)
	}
}

func deployment() *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "jack-operator"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: opts.Deployment, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "operator", Image: "jack-operator:test"}}},
			},
		},
	}
}

// webhookConfigs call the Service for a resource nothing in this test
// creates, so the API server never dials them.
func webhookConfigs(caBundle []byte) (*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration) {
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"selftest.example.com"}, APIVersions: []string{"v1"}, Resources: []string{"widgets"}},
	}}
	ref := func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{CABundle: caBundle,
			Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: svc, Path: ptr.To(path)}}
	}
	none := admissionregistrationv1.SideEffectClassNone
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: opts.ValidatingWebhook},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "vjackuser.auth.jack.io", ClientConfig: ref("/validate"),
				Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}}},
		}, &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: opts.MutatingWebhook},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "inject.auth.jack.io", ClientConfig: ref("/inject"),
				Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}}},
		}
}

// webhookServer answers as controller-runtime's does to an empty review:
// 200 with an error inside; its certificate is set per case.
func webhookServer(t *testing.T) *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"response":{"allowed":false,"status":{"code":400,"message":"got an empty AdmissionRequest"}}}`))
	}))
	s.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	s.StartTLS()
	// Each case changes the certificate: no session may outlive it.
	s.Config.SetKeepAlivesEnabled(false)
	t.Cleanup(s.Close)
	return s
}

type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) (authority, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return authority{cert, key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, dns string, lifetime time.Duration) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: dns},
		DNSNames: []string{dns}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(lifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Without cluster DNS (the local cluster has none) the Service's name is
// reached at its cluster IP, read from the API server; other addresses, and
// a Service without a cluster IP, are dialled as they are.
func TestTheWebhookServiceIsDialledAtItsClusterIP(t *testing.T) {
	ctx := context.Background()
	o := Options{Namespace: ns, WebhookService: "dialled-webhook", MetricsService: "dialled-metrics"}
	var dialled []string
	dial := serviceDialer(env.Client, o, func(_ context.Context, _, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		return nil, errors.New("not dialling in a test")
	})
	host := o.WebhookService + "." + ns + ".svc:443"
	if _, err := dial(ctx, "tcp", host); err == nil || !strings.Contains(err.Error(), "reading Service "+ns+"/dialled-webhook") {
		t.Errorf("dialling a Service that does not exist: %v", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: o.WebhookService, Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(9443)}}},
	}
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, svc) })
	if svc.Spec.ClusterIP == "" {
		t.Fatal("the API server gave the Service no cluster IP")
	}
	if _, err := dial(ctx, "tcp", o.MetricsService+"."+ns+".svc:8080"); err == nil || !strings.Contains(err.Error(), "reading Service "+ns+"/dialled-metrics") {
		t.Errorf("dialling the metrics Service, which does not exist: %v", err)
	}
	_, _ = dial(ctx, "tcp", host)
	_, _ = dial(ctx, "tcp", "example.com:443")
	want := []string{net.JoinHostPort(svc.Spec.ClusterIP, "443"), "example.com:443"}
	if !slices.Equal(dialled, want) {
		t.Errorf("dialled %v; want %v", dialled, want)
	}
}

// The metrics check scrapes the metrics Service's http-metrics port as
// Prometheus would, and passes only when the operator's jack_ metrics come
// back; each way it can miss them is named.
func TestTheMetricsServiceAnswersWithTheOperatorsMetrics(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	o := Options{Namespace: ns, MetricsService: "jack-operator-metrics"}

	// What the operator's endpoint serves: controller-runtime's registry
	// with the operator's metrics in it (one family stands for them).
	operator := prometheus.NewRegistry()
	operator.MustRegister(collectors.NewGoCollector(), prometheus.NewHistogram(prometheus.HistogramOpts{Name: "jack_password_hash_seconds", Help: "h"}))
	somethingElse := prometheus.NewRegistry()
	somethingElse.MustRegister(collectors.NewGoCollector())
	var handler atomic.Pointer[http.Handler]
	set := func(h http.Handler) { handler.Store(&h) }
	set(promhttp.HandlerFor(operator, promhttp.HandlerOpts{}))
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	var dialled string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled = addr
		return (&net.Dialer{}).DialContext(ctx, "tcp", server.Listener.Addr().String())
	}

	if _, err := metricsAnswer(ctx, c, o, dial); err == nil || !strings.Contains(err.Error(), "reading the metrics Service "+ns+"/jack-operator-metrics") {
		t.Errorf("without the Service: %v", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: o.MetricsService, Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "other", Port: 9000, TargetPort: intstr.FromInt32(9000)},
			{Name: "http-metrics", Port: 8080, TargetPort: intstr.FromString("metrics")},
		}},
	}
	if err := c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx, svc) })

	line, err := metricsAnswer(ctx, c, o, dial)
	if err != nil {
		t.Fatalf("a healthy metrics endpoint fails the check: %v", err)
	}
	if want := o.MetricsService + "." + ns + ".svc:8080"; dialled != want {
		t.Errorf("the check dialled %s, want the Service's http-metrics port %s", dialled, want)
	}
	if !strings.Contains(line, "answers with 1 jack_ metric families") {
		t.Errorf("passed: %s", line)
	}

	failures := []struct {
		name    string
		handler http.Handler
		says    string
	}{
		{"an endpoint without the operator's metrics", promhttp.HandlerFor(somethingElse, promhttp.HandlerOpts{}), "without any jack_ metric"},
		{"an endpoint that errs", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }), "answered HTTP 503"},
	}
	for _, f := range failures {
		set(f.handler)
		if _, err := metricsAnswer(ctx, c, o, dial); err == nil || !strings.Contains(err.Error(), f.says) {
			t.Errorf("%s: the check says %v; want %q", f.name, err, f.says)
		}
	}
	server.Close()
	if _, err := metricsAnswer(ctx, c, o, dial); err == nil || !strings.Contains(err.Error(), "scraping the metrics Service at http://"+o.MetricsService+"."+ns+".svc:8080/metrics") {
		t.Errorf("nothing listening: %v", err)
	}

	svc.Spec.Ports[1].Name = "web"
	if err := c.Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if _, err := metricsAnswer(ctx, c, o, dial); err == nil || !strings.Contains(err.Error(), "has no port named http-metrics") {
		t.Errorf("a Service without http-metrics: %v", err)
	}
}
