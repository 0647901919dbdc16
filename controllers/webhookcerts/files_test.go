package webhookcerts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// writeCertManagerSecret writes what a mounted cert-manager Secret holds:
// ca.crt, tls.crt and tls.key.
func writeCertManagerSecret(t *testing.T, dir string, b *certs.Bundle) {
	t.Helper()
	data := b.SecretData()
	for _, k := range []string{certs.SecretKeyCACert, certs.SecretKeyTLSCert, certs.SecretKeyTLSKey} {
		tmp := filepath.Join(dir, "."+k+".tmp")
		if err := os.WriteFile(tmp, data[k], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, k)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFilesModeServesTheFilesAndReportsTheirExpiry(t *testing.T) {
	s := testSettings()
	dir := t.TempDir()
	first := made(t, nil, certs.ActionCreate, s, time.Now())
	writeCertManagerSecret(t, dir, first)

	w, err := WatchFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.GetCertificate(nil)
	if err != nil || c == nil || c.Leaf == nil {
		t.Fatalf("the watcher serves no certificate: %v", err)
	}
	if !c.Leaf.Equal(first.Serving()) {
		t.Error("the watcher does not serve tls.crt")
	}
	if got := metricValue(t, MetricExpiry, map[string]string{"certificate": "serving"}); got != float64(first.Serving().NotAfter.Unix()) {
		t.Errorf("serving expiry metric = %v, want tls.crt's %d", got, first.Serving().NotAfter.Unix())
	}
	if got := metricValue(t, MetricExpiry, map[string]string{"certificate": "ca"}); got != float64(first.CA().NotAfter.Unix()) {
		t.Errorf("CA expiry metric = %v, want ca.crt's %d", got, first.CA().NotAfter.Unix())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Start(ctx)
	}()
	defer func() { cancel(); <-done }()
	// What cert-manager does at renewal: a new certificate (here with a new
	// CA, so both metrics move).
	renewed := made(t, nil, certs.ActionCreate, shortLived(time.Hour), time.Now())
	time.Sleep(100 * time.Millisecond) // the watches are in place
	writeCertManagerSecret(t, dir, renewed)
	poll.Until(t, 20*time.Second, "the renewed files are served and reported", func() error {
		if c, _ := w.GetCertificate(nil); c == nil || !c.Leaf.Equal(renewed.Serving()) {
			return errors.New("the old certificate is served")
		}
		if metricValue(t, MetricExpiry, map[string]string{"certificate": "ca"}) != float64(renewed.CA().NotAfter.Unix()) {
			return errors.New("the CA expiry metric is the old one")
		}
		return nil
	})

	if _, err := WatchFiles(t.TempDir()); err == nil {
		t.Error("an empty directory was accepted")
	}
}
