package webhookcerts

import (
	"crypto/tls"
	"crypto/x509"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/controllers/certs"
)

func TestTheServingCertificateFollowsTheSecretAndKeepsTheLastGoodOne(t *testing.T) {
	s := testSettings()
	now := time.Now()
	first := made(t, nil, certs.ActionCreate, s, now)
	renewed := made(t, first, certs.ActionIssueServing, s, now)
	foreign := made(t, nil, certs.ActionCreate, s, now)
	var sc ServingCertificate

	if sc.Checker(nil) == nil {
		t.Error("ready before any certificate was loaded")
	}
	if _, err := sc.GetCertificate(nil); err == nil {
		t.Error("a handshake before any certificate was loaded got one")
	}

	steps := []struct {
		name    string
		data    map[string][]byte
		changed bool
		wantErr string
		serves  *x509.Certificate
	}{
		{name: "an empty Secret loads nothing", data: map[string][]byte{}, wantErr: "no serving certificate", serves: nil},
		{name: "the first bundle is loaded", data: first.SecretData(), changed: true, serves: first.Serving()},
		{name: "the same bundle again (a resync) changes nothing", data: first.SecretData(), serves: first.Serving()},
		{name: "a serving key of another certificate is refused, keeping the last good one",
			data: with(first.SecretData(), certs.SecretKeyTLSKey, foreign.SecretData()[certs.SecretKeyTLSKey]), wantErr: certs.SecretKeyTLSKey, serves: first.Serving()},
		{name: "a ca.crt that is not PEM is refused too",
			data: with(first.SecretData(), certs.SecretKeyCACert, []byte("garbage")), wantErr: certs.SecretKeyCACert, serves: first.Serving()},
		{name: "a CA without a serving certificate is not loaded",
			data: without(first.SecretData(), certs.SecretKeyTLSCert, certs.SecretKeyTLSKey), wantErr: "no serving certificate", serves: first.Serving()},
		{name: "a renewed certificate replaces it", data: renewed.SecretData(), changed: true, serves: renewed.Serving()},
	}
	for _, step := range steps {
		changed, err := sc.load(step.data)
		switch {
		case step.wantErr == "" && err != nil:
			t.Fatalf("%s: %v", step.name, err)
		case step.wantErr != "" && (err == nil || !strings.Contains(err.Error(), step.wantErr)):
			t.Fatalf("%s: load = %v, want an error saying %q", step.name, err, step.wantErr)
		case changed != step.changed:
			t.Errorf("%s: changed = %v, want %v", step.name, changed, step.changed)
		}
		got, err := sc.GetCertificate(nil)
		if step.serves == nil {
			if err == nil {
				t.Errorf("%s: serves a certificate", step.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if !got.Leaf.Equal(step.serves) {
			t.Errorf("%s: serves serial %x, want %x", step.name, got.Leaf.SerialNumber, step.serves.SerialNumber)
		}
		if err := sc.Checker(nil); err != nil {
			t.Errorf("%s: not ready: %v", step.name, err)
		}
	}
}

func TestAServerConfiguredWithTheServingCertificatePresentsIt(t *testing.T) {
	b := made(t, nil, certs.ActionCreate, testSettings(), time.Now())
	var sc ServingCertificate
	if _, err := sc.load(b.SecretData()); err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	sc.ConfigureTLS(cfg)
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(b.CABundle())
	for _, name := range []string{"127.0.0.1", testSettings().DNSNames[0]} {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), &tls.Config{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Fatalf("a client that trusts the caBundle refuses the server as %s: %v", name, err)
		}
		_ = conn.Close()
	}
}

func with(d map[string][]byte, k string, v []byte) map[string][]byte {
	d = maps.Clone(d)
	d[k] = v
	return d
}

func without(d map[string][]byte, keys ...string) map[string][]byte {
	d = maps.Clone(d)
	for _, k := range keys {
		delete(d, k)
	}
	return d
}
