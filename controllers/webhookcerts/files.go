package webhookcerts

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"github.com/jack-io/jack-operator/controllers/certs"
)

// WatchFiles is the other way to get a serving certificate: from tls.crt and
// tls.key in dir, which another tool keeps (cert-manager's Secret, mounted
// there), reloaded when they change, as controller-runtime's webhook server
// does by itself. Doing it here reports the same expiry metric as the
// operator's own certificates, for the serving certificate and for dir's
// ca.crt when there is one, so one alert covers both ways. The webhook server
// must use the watcher's GetCertificate (then it watches no files itself),
// and the manager must run the watcher.
func WatchFiles(dir string) (*certwatcher.CertWatcher, error) {
	w, err := certwatcher.New(filepath.Join(dir, certs.SecretKeyTLSCert), filepath.Join(dir, certs.SecretKeyTLSKey))
	if err != nil {
		return nil, fmt.Errorf("loading the webhook serving certificate from %s: %w", dir, err)
	}
	w.RegisterCallback(func(c tls.Certificate) { recordFiles(dir, c) })
	return w, nil
}

// recordFiles reports the expiry of c, just loaded, and of the first
// certificate of dir's ca.crt.
func recordFiles(dir string, c tls.Certificate) {
	if c.Leaf != nil {
		expiry.WithLabelValues(certificateServing).Set(float64(c.Leaf.NotAfter.Unix()))
	}
	if ca := firstCertificate(filepath.Join(dir, certs.SecretKeyCACert)); ca != nil {
		expiry.WithLabelValues(certificateCA).Set(float64(ca.NotAfter.Unix()))
	} else {
		expiry.DeleteLabelValues(certificateCA)
	}
}

// firstCertificate is the first certificate of a PEM file, or nil.
func firstCertificate(path string) *x509.Certificate {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			return nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			return c
		}
	}
}
