// Package selftest is the operator image's `check` command, which the
// chart's `helm test` pod runs (templates/tests/check.yaml): it finds the
// operator's Deployment ready, the webhook configurations carrying a CA
// bundle and pointing at the webhook Service, and that Service serving, over
// TLS, a certificate for its DNS name that each configuration's caBundle
// verifies — what the API server itself checks before every admission call;
// and, given --metrics-service, that the metrics Service answers /metrics
// with the operator's jack_ metrics, as Prometheus would scrape it.
//
// It reads the Deployment, the webhook and metrics Services and the two
// webhook configurations, by name, and nothing else: its RBAC in the chart
// names them (resourceNames). It reaches each Service at its cluster IP, with
// the webhook's TLS server name the API server uses
// (<service>.<namespace>.svc), so it needs no cluster DNS.
//
// Used by main.go (`manager check`) only.
package selftest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options name what is checked; the chart passes them as flags.
type Options struct {
	// Namespace of the Deployment and the webhook Service.
	Namespace string
	// Deployment is the operator's.
	Deployment string
	// WebhookService serves both webhook configurations, on port 443.
	WebhookService string
	// ValidatingWebhook and MutatingWebhook are the configurations' names.
	ValidatingWebhook, MutatingWebhook string
	// MetricsService, in Namespace, serves /metrics on its port named
	// http-metrics (or its only port); empty skips that check.
	MetricsService string
	// MinValidity fails the check when the serving certificate expires
	// sooner.
	MinValidity time.Duration
	// Timeout bounds the whole check.
	Timeout time.Duration
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "The operator's namespace.")
	fs.StringVar(&o.Deployment, "deployment", o.Deployment, "The operator's Deployment.")
	fs.StringVar(&o.WebhookService, "webhook-service", o.WebhookService, "The webhook Service, in the operator's namespace.")
	fs.StringVar(&o.ValidatingWebhook, "validating-webhook-configuration", o.ValidatingWebhook, "The ValidatingWebhookConfiguration.")
	fs.StringVar(&o.MutatingWebhook, "mutating-webhook-configuration", o.MutatingWebhook, "The MutatingWebhookConfiguration.")
	fs.StringVar(&o.MetricsService, "metrics-service", o.MetricsService, "The metrics Service, in the operator's namespace; empty skips the metrics check.")
	fs.DurationVar(&o.MinValidity, "min-validity", 24*time.Hour, "Fail when the serving certificate expires sooner than this.")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "How long the whole check may take.")
}

func (o Options) validate() error {
	var missing []string
	for flagName, v := range map[string]string{"namespace": o.Namespace, "deployment": o.Deployment, "webhook-service": o.WebhookService,
		"validating-webhook-configuration": o.ValidatingWebhook, "mutating-webhook-configuration": o.MutatingWebhook} {
		if v == "" {
			missing = append(missing, "--"+flagName)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("check needs %s", strings.Join(missing, ", "))
	}
	return nil
}

// DialContext opens a TCP connection; tests route the Service's name to a
// local server with it.
type DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

// serviceDialer dials the webhook or metrics Service's DNS name at the
// Service's cluster IP, read from the API server: what the name resolves to
// in a cluster with DNS, and reachable in one without. Any other address, and
// a Service without a cluster IP, is dialled as it is, with next.
func serviceDialer(c client.Reader, o Options, next DialContext) DialContext {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return next(ctx, network, addr)
		}
		name := ""
		for _, s := range []string{o.WebhookService, o.MetricsService} {
			if s != "" && host == s+"."+o.Namespace+".svc" {
				name = s
			}
		}
		if name == "" {
			return next(ctx, network, addr)
		}
		var svc corev1.Service
		if err := c.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: name}, &svc); err != nil {
			return nil, fmt.Errorf("reading Service %s/%s: %w", o.Namespace, name, err)
		}
		if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
			addr = net.JoinHostPort(ip, port)
		}
		return next(ctx, network, addr)
	}
}

// Check runs every check and returns a line per passed check, and every
// failure joined, each a sentence naming the object.
func Check(ctx context.Context, c client.Reader, o Options, dial DialContext) ([]string, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if dial == nil {
		dial = serviceDialer(c, o, (&net.Dialer{Timeout: 5 * time.Second}).DialContext)
	}
	var passed []string
	var errs []error
	if line, err := deploymentReady(ctx, c, o); err != nil {
		errs = append(errs, err)
	} else {
		passed = append(passed, line)
	}
	lines, err := webhooksServe(ctx, c, o, dial)
	passed = append(passed, lines...)
	if err != nil {
		errs = append(errs, err)
	}
	if o.MetricsService != "" {
		if line, err := metricsAnswer(ctx, c, o, dial); err != nil {
			errs = append(errs, err)
		} else {
			passed = append(passed, line)
		}
	}
	return passed, errors.Join(errs...)
}

// metricsAnswer scrapes the metrics Service once, as Prometheus does through
// the ServiceMonitor: GET /metrics on its http-metrics port (or its only
// port) answers 200 with at least one of the operator's jack_ metric
// families, which every replica exports from its start.
func metricsAnswer(ctx context.Context, c client.Reader, o Options, dial DialContext) (string, error) {
	var svc corev1.Service
	if err := c.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: o.MetricsService}, &svc); err != nil {
		return "", fmt.Errorf("reading the metrics Service %s/%s: %w", o.Namespace, o.MetricsService, err)
	}
	var port int32
	for _, p := range svc.Spec.Ports {
		if p.Name == "http-metrics" || len(svc.Spec.Ports) == 1 {
			port = p.Port
		}
	}
	if port == 0 {
		return "", fmt.Errorf("the metrics Service %s/%s has no port named http-metrics", o.Namespace, o.MetricsService)
	}
	url := "http://" + net.JoinHostPort(o.MetricsService+"."+o.Namespace+".svc", strconv.Itoa(int(port))) + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("scraping the metrics Service at %s: %w (a NetworkPolicy's networkPolicy.metricsFrom, or no ready replica?)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the metrics Service at %s answered HTTP %d, not 200", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", url, err)
	}
	families := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "# TYPE jack_") {
			families++
		}
	}
	if families == 0 {
		return "", fmt.Errorf("the metrics Service at %s answered without any jack_ metric: it does not reach the operator's metrics endpoint", url)
	}
	return fmt.Sprintf("metrics: %s answers with %d jack_ metric families", url, families), nil
}

func deploymentReady(ctx context.Context, c client.Reader, o Options) (string, error) {
	var d appsv1.Deployment
	if err := c.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: o.Deployment}, &d); err != nil {
		return "", fmt.Errorf("reading Deployment %s/%s: %w", o.Namespace, o.Deployment, err)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.ReadyReplicas < 1 || d.Status.ReadyReplicas < want {
		return "", fmt.Errorf("deployment %s/%s has %d of %d replicas ready: see `kubectl -n %s describe deployment %s` and the operator's logs",
			o.Namespace, o.Deployment, d.Status.ReadyReplicas, want, o.Namespace, o.Deployment)
	}
	return fmt.Sprintf("operator: Deployment %s/%s has %d of %d replicas ready", o.Namespace, o.Deployment, d.Status.ReadyReplicas, want), nil
}

// hook is what a webhook of either kind tells the API server.
type hook struct {
	config, name string
	service      *admissionregistrationv1.ServiceReference
	caBundle     []byte
}

func webhooksServe(ctx context.Context, c client.Reader, o Options, dial DialContext) ([]string, error) {
	var hooks []hook
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, types.NamespacedName{Name: o.ValidatingWebhook}, &v); err != nil {
		return nil, fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", o.ValidatingWebhook, err)
	}
	for _, h := range v.Webhooks {
		hooks = append(hooks, hook{"ValidatingWebhookConfiguration " + v.Name, h.Name, h.ClientConfig.Service, h.ClientConfig.CABundle})
	}
	var m admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(ctx, types.NamespacedName{Name: o.MutatingWebhook}, &m); err != nil {
		return nil, fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", o.MutatingWebhook, err)
	}
	for _, h := range m.Webhooks {
		hooks = append(hooks, hook{"MutatingWebhookConfiguration " + m.Name, h.Name, h.ClientConfig.Service, h.ClientConfig.CABundle})
	}
	if len(hooks) == 0 {
		return nil, fmt.Errorf("webhook configurations %s and %s have no webhooks", o.ValidatingWebhook, o.MutatingWebhook)
	}

	var passed []string
	var errs []error
	checked := map[string]string{} // caBundle → the result line of its check
	for _, h := range hooks {
		if h.service == nil || h.service.Name != o.WebhookService || h.service.Namespace != o.Namespace {
			errs = append(errs, fmt.Errorf("%s: webhook %s does not call Service %s/%s", h.config, h.name, o.Namespace, o.WebhookService))
			continue
		}
		if len(h.caBundle) == 0 {
			errs = append(errs, fmt.Errorf("%s: webhook %s has no caBundle: the operator (self mode) or cert-manager's cainjector has not filled it in", h.config, h.name))
			continue
		}
		if _, done := checked[string(h.caBundle)]; done {
			continue
		}
		line, err := serves(ctx, o, h, dial)
		if err != nil {
			errs = append(errs, err)
			checked[string(h.caBundle)] = ""
			continue
		}
		checked[string(h.caBundle)] = line
		passed = append(passed, line)
	}
	return passed, errors.Join(errs...)
}

// serves dials the Service as the API server does: TLS to
// <service>.<namespace>.svc, trusting only the webhook's caBundle; then
// sends it an admission request with no content, which a webhook server
// answers (with an error of its own) when it serves.
func serves(ctx context.Context, o Options, h hook, dial DialContext) (string, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(h.caBundle) {
		return "", fmt.Errorf("%s: webhook %s's caBundle holds no PEM certificate", h.config, h.name)
	}
	host := o.WebhookService + "." + o.Namespace + ".svc"
	port := int32(443)
	if h.service.Port != nil {
		port = *h.service.Port
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
	var served *x509.Certificate
	tr := &http.Transport{
		DialContext: dial,
		TLSClientConfig: &tls.Config{
			RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) > 0 {
					served = cs.PeerCertificates[0]
				}
				return nil
			},
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	path := "/"
	if h.service.Path != nil {
		path = *h.service.Path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader([]byte("{}")))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		var unknown x509.UnknownAuthorityError
		var hostErr x509.HostnameError
		switch {
		case errors.As(err, &unknown):
			return "", fmt.Errorf("%s: the webhook Service %s serves a certificate that webhook %s's caBundle does not verify (signed by an unknown authority): the API server refuses it too; see docs/webhook-certificates.md", h.config, addr, h.name)
		case errors.As(err, &hostErr):
			return "", fmt.Errorf("%s: the webhook Service %s serves a certificate not valid for %s: %v", h.config, addr, host, hostErr)
		}
		return "", fmt.Errorf("%s: calling webhook %s at %s: %w", h.config, h.name, addr, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return "", fmt.Errorf("%s: webhook %s at %s answered HTTP %d", h.config, h.name, addr, resp.StatusCode)
	}
	if served == nil {
		return "", fmt.Errorf("%s: webhook %s at %s presented no certificate", h.config, h.name, addr)
	}
	left := time.Until(served.NotAfter)
	if left < o.MinValidity {
		return "", fmt.Errorf("%s: the webhook's serving certificate expires in %s (at %s), sooner than %s: renewal is failing; see docs/runbooks.md", h.config, left.Round(time.Minute), served.NotAfter.UTC().Format(time.RFC3339), o.MinValidity)
	}
	return fmt.Sprintf("webhook: %s serves a certificate for %s that %s's caBundle verifies, valid until %s", addr, host, h.config, served.NotAfter.UTC().Format(time.RFC3339)), nil
}
