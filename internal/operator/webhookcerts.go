package operator

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/controllers/webhookcerts"
)

// Values of --webhook-cert-mode.
const (
	// certModeSelf: the operator makes and rotates its own certificates in
	// a Secret (controllers/webhookcerts).
	certModeSelf = "self"
	// certModeFiles: another tool, such as cert-manager, keeps tls.crt and
	// tls.key in --webhook-cert-dir and fills caBundle.
	certModeFiles = "files"
)

// WebhookCertOptions are the flags of the webhook serving certificate. The
// Helm chart passes them by these names.
type WebhookCertOptions struct {
	Mode        string
	SecretName  string
	ServiceName string
	Validating  string
	Mutating    string
	IPSANs      string
}

// AddFlags registers the webhook certificate flags on fs.
func (w *WebhookCertOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&w.Mode, "webhook-cert-mode", certModeSelf, "Where the webhook serving certificate comes from: \"self\", a CA and certificate the operator makes and rotates in the Secret --webhook-secret-name, or \"files\", tls.crt and tls.key kept in --webhook-cert-dir by another tool such as cert-manager.")
	fs.StringVar(&w.SecretName, "webhook-secret-name", "jack-operator-webhook-certs", "The Secret, in --operator-namespace, that holds the webhook certificates in self mode.")
	fs.StringVar(&w.ServiceName, "webhook-service-name", "jack-operator-webhook", "The Service, in --operator-namespace, the API server calls the webhooks through; the certificate is for <service>.<namespace>.svc and <service>.<namespace>.svc.cluster.local.")
	fs.StringVar(&w.Validating, "validating-webhook-configuration", "validating-webhook-configuration", "The ValidatingWebhookConfiguration whose caBundle the operator keeps in self mode; empty for none.")
	fs.StringVar(&w.Mutating, "mutating-webhook-configuration", "jack-operator-pod-injection", "The MutatingWebhookConfiguration whose caBundle the operator keeps in self mode; empty for none.")
	fs.StringVar(&w.IPSANs, "webhook-cert-ip-sans", "", "Comma-separated IP addresses the serving certificate is also for, in self mode: for webhook configurations that call the server by a URL at an address, as a local control plane does.")
}

// webhookCerts is the certificate management the flags ask for: the
// webhook server's TLS options, and what to add to the manager once it
// exists, with a readiness check that fails until a certificate is loaded.
// certDir is --webhook-cert-dir.
func webhookCerts(w WebhookCertOptions, certDir, operatorNamespace string) ([]func(*tls.Config), func(ctrl.Manager) error, error) {
	switch w.Mode {
	case certModeFiles:
		if certDir == "" {
			// controller-runtime's default.
			certDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
		}
		watcher, err := webhookcerts.WatchFiles(certDir)
		if err != nil {
			return nil, nil, err
		}
		useFiles := func(c *tls.Config) { c.GetCertificate = watcher.GetCertificate }
		return []func(*tls.Config){useFiles}, func(mgr ctrl.Manager) error { return mgr.Add(watcher) }, nil
	case certModeSelf:
	default:
		return nil, nil, fmt.Errorf("--webhook-cert-mode must be %q or %q, not %q", certModeSelf, certModeFiles, w.Mode)
	}
	if certDir != "" {
		return nil, nil, errors.New("--webhook-cert-dir is for --webhook-cert-mode=files; in self mode the certificate is kept in the Secret --webhook-secret-name")
	}
	settings := certs.Settings{DNSNames: webhookcerts.ServiceDNSNames(w.ServiceName, operatorNamespace)}
	for _, s := range strings.Split(w.IPSANs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, nil, fmt.Errorf("--webhook-cert-ip-sans: %w", err)
		}
		settings.IPAddresses = append(settings.IPAddresses, a)
	}
	r := &webhookcerts.Reconciler{
		Secret:                          types.NamespacedName{Namespace: operatorNamespace, Name: w.SecretName},
		Settings:                        settings,
		ValidatingWebhookConfigurations: nonEmpty(w.Validating),
		MutatingWebhookConfigurations:   nonEmpty(w.Mutating),
	}
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	serving := &webhookcerts.ServingCertificate{}
	setup := func(mgr ctrl.Manager) error {
		if err := webhookcerts.Setup(mgr, r, serving); err != nil {
			return fmt.Errorf("setting up the webhook certificates: %w", err)
		}
		return mgr.AddReadyzCheck("webhook-certificate", serving.Checker)
	}
	return []func(*tls.Config){serving.ConfigureTLS}, setup, nil
}

func nonEmpty(name string) []string {
	if name == "" {
		return nil
	}
	return []string{name}
}
