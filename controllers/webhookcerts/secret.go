package webhookcerts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/controllers/ensure"
)

// ComponentWebhookCertificates is the jack.LabelComponent value of the
// Secret the operator creates.
const ComponentWebhookCertificates = "webhook-certificates"

// secretKeys are the data keys certs owns; any other key of the Secret is
// left as it is.
var secretKeys = []string{certs.SecretKeyCACert, certs.SecretKeyCAKey, certs.SecretKeyTLSCert, certs.SecretKeyTLSKey}

// readSecret reads the Secret from the API server and the bundle it holds.
// The Secret is nil when it does not exist, and the bundle nil when it holds
// none or none worth keeping. Data that does not make a bundle is reported as
// a Warning event and read as what can be saved of it: the CA, when only the
// serving certificate is at fault (so caBundle does not change), or nothing.
func (r *Reconciler) readSecret(ctx context.Context) (*corev1.Secret, *certs.Bundle, error) {
	secret := &corev1.Secret{}
	if err := r.Reader.Get(ctx, r.Secret, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("reading the webhook certificate Secret %s: %w", r.Secret, err)
	}
	if !slices.ContainsFunc(secretKeys, func(k string) bool { _, ok := secret.Data[k]; return ok }) {
		// Empty, as the Helm chart creates it so that uninstall removes it:
		// nothing to keep and nothing to warn about.
		return secret, nil, nil
	}
	bundle, problem := parseSalvaging(secret.Data)
	if problem != nil {
		outcome := "a new CA and serving certificate replace everything, and the webhook configurations get the new caBundle"
		if bundle != nil {
			outcome = "a new serving certificate from the same CA replaces it, so caBundle does not change"
		}
		r.Recorder.Eventf(secret, nil, corev1.EventTypeWarning, ReasonSecretInvalid, "Read", "%s: %s", problem, outcome)
	}
	return secret, bundle, nil
}

// parseSalvaging is certs.Parse, keeping the CA when only the serving
// certificate or its key is at fault. problem is why the data was refused,
// if it was; certs' errors name a data key, never the data.
func parseSalvaging(data map[string][]byte) (bundle *certs.Bundle, problem error) {
	b, err := certs.Parse(data)
	if err == nil {
		return b, nil
	}
	var pe *certs.ParseError
	if errors.As(err, &pe) && pe.ServingOnly() {
		caOnly := maps.Clone(data)
		delete(caOnly, certs.SecretKeyTLSCert)
		delete(caOnly, certs.SecretKeyTLSKey)
		if b, again := certs.Parse(caOnly); again == nil {
			return b, err
		}
	}
	return nil, err
}

// writeSecret stores b: it creates the Secret if there is none, and
// otherwise updates the one that was read, whose resourceVersion makes a
// concurrent write fail with a Conflict instead of being overwritten. An
// existing Secret is adopted whatever its labels (the Helm chart creates it
// empty), and keeps its labels and any data keys certs does not own.
func (r *Reconciler) writeSecret(ctx context.Context, existing *corev1.Secret, b *certs.Bundle) (*corev1.Secret, error) {
	bundleData := b.SecretData()
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: r.Secret.Name, Namespace: r.Secret.Namespace,
			Labels: map[string]string{jack.LabelManagedBy: jack.ManagedByValue, jack.LabelComponent: ComponentWebhookCertificates},
		},
		// Every bundle Apply makes has tls.crt and tls.key, and the type
		// tells people and tools what the Secret is.
		Type: corev1.SecretTypeTLS,
		Data: bundleData,
	}
	// Every decision applied makes a new key or drops a CA from ca.crt, so
	// Object never finds the Secret unchanged: each one is written.
	secret, _, err := ensure.Object(ctx, r.Client, existing, want, func(s *corev1.Secret) {
		data := maps.Clone(s.Data)
		if data == nil {
			data = map[string][]byte{}
		}
		for _, k := range secretKeys {
			delete(data, k)
		}
		maps.Copy(data, bundleData)
		s.Data = data
	}, ensure.Named(fmt.Sprintf("the webhook certificate Secret %s", r.Secret)))
	return secret, err
}
