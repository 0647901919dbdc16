package doctor

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/internal/jackctl/install"
)

// webhooks checks the webhook serving certificate, that the webhook
// configurations trust it, and that the webhook Service has a ready
// endpoint to call.
func (r *report) webhooks(ctx context.Context, c client.Client, op *install.Operator) error {
	if !op.Options.Webhooks {
		r.ok("webhooks: off (--enable-webhooks=false): no pod is injected")
		return nil
	}
	ns, certs := op.Namespace(), op.Options.Certs
	selfMode := certs.Mode != "files"
	refill := "the operator rewrites it within seconds while it runs: check its logs (kubectl -n " + ns + " logs deployment/" + op.Deployment.Name + ")"
	if !selfMode {
		refill = "cert-manager's cainjector fills it: check the Certificate in " + ns + " and the webhook configuration's cert-manager.io/inject-ca-from annotation"
	}

	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: certs.SecretName}, secret); apierrors.IsNotFound(err) {
		r.problem(fmt.Sprintf("webhook certificate: no Secret %s in %s", certs.SecretName, ns), refill)
		return nil
	} else if err != nil {
		return fmt.Errorf("reading the webhook certificate Secret %s in %s: %w", certs.SecretName, ns, err)
	}
	leaf, err := firstCertificate(secret.Data[corev1.TLSCertKey])
	if err != nil {
		r.problem(fmt.Sprintf("webhook certificate: Secret %s/%s has no readable %s: %v", ns, certs.SecretName, corev1.TLSCertKey, err), refill)
		return nil
	}
	r.certificateExpiry(ns, certs.SecretName, leaf, refill)
	ca := secret.Data[corev1.ServiceAccountRootCAKey]

	var bundles []caBundle
	if name := certs.Mutating; name != "" {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, m); apierrors.IsNotFound(err) {
			r.problem(fmt.Sprintf("webhooks: no MutatingWebhookConfiguration %s (--mutating-webhook-configuration): no pod is injected", name),
				"reinstall it: helm upgrade of the release, or kubectl apply of config/webhook")
		} else if err != nil {
			return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", name, err)
		} else {
			for _, w := range m.Webhooks {
				bundles = append(bundles, caBundle{"MutatingWebhookConfiguration " + name, w.Name, w.ClientConfig.CABundle})
			}
		}
	}
	if name := certs.Validating; name != "" {
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, v); apierrors.IsNotFound(err) {
			r.problem(fmt.Sprintf("webhooks: no ValidatingWebhookConfiguration %s (--validating-webhook-configuration): JackUsers are admitted unchecked", name),
				"reinstall it: helm upgrade of the release, or kubectl apply of config/webhook")
		} else if err != nil {
			return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", name, err)
		} else {
			for _, w := range v.Webhooks {
				bundles = append(bundles, caBundle{"ValidatingWebhookConfiguration " + name, w.Name, w.ClientConfig.CABundle})
			}
		}
	}
	for _, b := range bundles {
		switch {
		case len(ca) > 0 && bytes.Equal(b.pem, ca):
			r.ok("webhooks: %s, webhook %s: caBundle is the Secret's %s", b.config, b.webhook, corev1.ServiceAccountRootCAKey)
		case verifies(b.pem, leaf):
			r.ok("webhooks: %s, webhook %s: caBundle verifies the serving certificate (it differs from the Secret's %s: a CA rotation is under way)", b.config, b.webhook, corev1.ServiceAccountRootCAKey)
		default:
			r.problem(fmt.Sprintf("webhooks: %s, webhook %s: caBundle does not verify the serving certificate in Secret %s/%s, so the API server cannot call the webhook", b.config, b.webhook, ns, certs.SecretName), refill)
		}
	}
	return r.endpoints(ctx, c, ns, certs.ServiceName)
}

type caBundle struct {
	config, webhook string
	pem             []byte
}

func (r *report) certificateExpiry(ns, secret string, leaf *x509.Certificate, fix string) {
	left := leaf.NotAfter.Sub(r.now)
	what := fmt.Sprintf("webhook certificate: Secret %s/%s, for %v", ns, secret, leaf.DNSNames)
	switch {
	case left <= 0:
		r.problem(fmt.Sprintf("%s, expired %s ago (%s): the API server refuses to call the webhooks", what, duration.HumanDuration(-left), leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z")), fix)
	case left < CertificateWarning:
		r.warn(fmt.Sprintf("%s, expires in %s (%s)", what, duration.HumanDuration(left), leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z")), fix)
	default:
		r.ok("%s, expires in %s", what, duration.HumanDuration(left))
	}
}

// endpoints checks the API server has a ready endpoint to call the
// webhooks at.
func (r *report) endpoints(ctx context.Context, c client.Client, ns, service string) error {
	var slices discoveryv1.EndpointSliceList
	if err := c.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: service}); err != nil {
		return fmt.Errorf("listing the endpoints of Service %s in %s: %w", service, ns, err)
	}
	ready := 0
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			}
		}
	}
	if ready == 0 {
		r.problem(fmt.Sprintf("webhooks: Service %s/%s has no ready endpoint, so the API server cannot reach the webhooks: pods that ask for the sidecar are refused", ns, service),
			fmt.Sprintf("see why the operator's pods are not ready: kubectl -n %s get pods; kubectl -n %s describe service %s", ns, ns, service))
		return nil
	}
	r.ok("webhooks: Service %s/%s has %d ready endpoint(s)", ns, service, ready)
	return nil
}

func firstCertificate(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// verifies reports whether the PEM bundle holds a CA that signed leaf, as
// the API server checks it (at a time the leaf is valid: expiry is checked
// apart).
func verifies(bundle []byte, leaf *x509.Certificate) bool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return false
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)})
	return err == nil
}
