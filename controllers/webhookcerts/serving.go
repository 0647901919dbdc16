package webhookcerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/jack-io/jack-operator/controllers/certs"
)

// ServingCertificate is the webhook server's certificate, kept in memory
// from the Secret. Every replica has one, leader or not. Its zero value is
// ready to use, and serves nothing until a certificate is loaded.
type ServingCertificate struct {
	current atomic.Pointer[loadedCertificate]
	// mu orders loads, so a slow one never replaces a newer one.
	mu sync.Mutex
}

type loadedCertificate struct {
	cert *tls.Certificate
	// pem is tls.crt as loaded, to tell a new certificate from a resync.
	pem []byte
}

// ConfigureTLS makes a webhook server's TLS handshakes present the loaded
// certificate: pass it in webhook.Options.TLSOpts. controller-runtime then
// reads no certificate files.
func (s *ServingCertificate) ConfigureTLS(c *tls.Config) {
	c.GetCertificate = s.GetCertificate
}

// GetCertificate is a tls.Config.GetCertificate: the loaded certificate,
// or an error (a failed handshake) while there is none.
func (s *ServingCertificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if l := s.current.Load(); l != nil {
		return l.cert, nil
	}
	return nil, errNotLoaded
}

var errNotLoaded = errors.New("no webhook serving certificate loaded yet")

// Checker is a readiness check (healthz.Checker) that fails until a
// certificate is loaded, so a replica gets no admission it cannot answer.
func (s *ServingCertificate) Checker(*http.Request) error {
	if s.current.Load() == nil {
		return errNotLoaded
	}
	return nil
}

// load takes the serving certificate from a Secret's data. It keeps the one
// loaded before, and says why, when the data holds no usable bundle: the
// leader repairs the Secret, and until then the last good certificate is
// the one most likely to verify. changed is false when the data holds the
// certificate already loaded.
func (s *ServingCertificate) load(data map[string][]byte) (changed bool, _ error) {
	b, err := certs.Parse(data)
	switch {
	case err != nil:
		return false, err
	case b == nil || b.Serving() == nil:
		return false, errors.New("the Secret holds no serving certificate yet")
	}
	canonical := b.SecretData()
	certPEM := canonical[certs.SecretKeyTLSCert]
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.current.Load(); l != nil && bytes.Equal(l.pem, certPEM) {
		return false, nil
	}
	pair, err := tls.X509KeyPair(certPEM, canonical[certs.SecretKeyTLSKey])
	if err != nil {
		// Parse checked the key against the certificate, so this does not
		// happen; its error is not quoted, as a key parser's could describe
		// the key.
		return false, errors.New("the serving certificate and key parse but do not make a TLS certificate")
	}
	s.current.Store(&loadedCertificate{cert: &pair, pem: certPEM})
	recordServed(b)
	return true, nil
}

// secretWatcher loads the ServingCertificate from every version of the
// Secret the cache sees. It runs in every replica.
type secretWatcher struct {
	serving *ServingCertificate
	cache   cache.Cache
	secret  types.NamespacedName
	log     logr.Logger
}

// NeedLeaderElection is false: every replica serves admissions.
func (w *secretWatcher) NeedLeaderElection() bool { return false }

// Start loads the Secret now and on every change until ctx ends. A deleted
// Secret changes nothing: the certificate loaded stays until the leader
// makes a new one.
func (w *secretWatcher) Start(ctx context.Context) error {
	informer, err := w.cache.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watching the webhook certificate Secret %s: %w", w.secret, err)
	}
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    w.onSecret,
		UpdateFunc: func(_, o any) { w.onSecret(o) },
	})
	if err != nil {
		return fmt.Errorf("watching the webhook certificate Secret %s: %w", w.secret, err)
	}
	<-ctx.Done()
	return informer.RemoveEventHandler(reg)
}

func (w *secretWatcher) onSecret(o any) {
	secret, ok := o.(*corev1.Secret)
	if !ok || secret.Namespace != w.secret.Namespace || secret.Name != w.secret.Name {
		return
	}
	changed, err := w.serving.load(secret.Data)
	switch {
	case err != nil:
		// certs' errors name a data key and never quote the data.
		w.log.Info("keeping the webhook serving certificate loaded before: the Secret holds none usable", "secret", w.secret, "problem", err.Error())
	case changed:
		w.log.Info("webhook serving certificate loaded", "secret", w.secret, "resourceVersion", secret.ResourceVersion)
	}
}
