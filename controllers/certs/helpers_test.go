package certs

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"maps"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

const (
	day   = 24 * time.Hour
	svc   = "webhook-service.jack-system.svc"
	svcCL = "webhook-service.jack-system.svc.cluster.local"
)

func settings() Settings { return Settings{DNSNames: []string{svc, svcCL}} }

// loopback is the address a local control plane dials its webhooks at.
var loopback = netip.MustParseAddr("127.0.0.1")

func withAddrs(addrs ...netip.Addr) Settings {
	s := settings()
	s.IPAddresses = addrs
	return s
}

func withNames(names ...string) Settings {
	s := settings()
	s.DNSNames = names
	return s
}

func mustApply(t *testing.T, b *Bundle, a Action, s Settings, now time.Time) *Bundle {
	t.Helper()
	next, err := Apply(b, Decision{Action: a}, s, now)
	if err != nil {
		t.Fatalf("Apply %s at %s: %v", a, stamp(now), err)
	}
	return next
}

// stored is b written to a Secret and read back, as the controller sees it
// on its next reconcile.
func stored(t *testing.T, b *Bundle) *Bundle {
	t.Helper()
	back, err := Parse(b.SecretData())
	if err != nil {
		t.Fatalf("a bundle made by Apply does not parse back: %v", err)
	}
	return back
}

// rotation is one bundle's life through a CA rotation with the default
// settings: made at start, its serving certificate renewed at day 240, then
// the three phases from the CA's renewal point t1.
type rotation struct {
	made, beforeCA, phase1, phase2, phase3 *Bundle
	t1, t2, t3                             time.Time
}

// caRenewal is the default CA's renewal point when made at start: two
// thirds of 365 days.
var caRenewal = start.Add(243*day + 8*time.Hour)

func rotate(t *testing.T) rotation {
	t.Helper()
	s := settings()
	r := rotation{t1: caRenewal, t2: caRenewal.Add(DefaultOverlap), t3: caRenewal.Add(2 * DefaultOverlap)}
	r.made = mustApply(t, nil, ActionCreate, s, start)
	r.beforeCA = mustApply(t, r.made, ActionIssueServing, s, start.Add(240*day))
	r.phase1 = mustApply(t, r.beforeCA, ActionRotateCA, s, r.t1)
	r.phase2 = mustApply(t, r.phase1, ActionIssueServing, s, r.t2)
	r.phase3 = mustApply(t, r.phase2, ActionDropPreviousCA, s, r.t3)
	return r
}

// withoutServing is b as Parse returns it from a Secret that lost tls.crt
// and tls.key.
func withoutServing(b *Bundle) *Bundle {
	c := *b
	c.serving, c.servingKey, c.servingPK = nil, nil, nil
	return &c
}

// withServingFrom is b with other's serving certificate and key.
func withServingFrom(b, other *Bundle) *Bundle {
	c := *b
	c.serving, c.servingKey, c.servingPK = other.serving, other.servingKey, other.servingPK
	return &c
}

// verify checks what the API server checks when it calls the webhook: the
// serving certificate chains to the caBundle, for every name, at now. A name
// may be an IP address, as in a webhook URL.
func verify(caBundle []byte, serving *x509.Certificate, names []string, now time.Time) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		return errNoCerts
	}
	for _, n := range names {
		if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, DNSName: n, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return err
		}
	}
	return nil
}

var errNoCerts = errors.New("the caBundle holds no certificate")

func cloneData(d map[string][]byte) map[string][]byte { return maps.Clone(d) }

// keyMaterial is fragments of every private key in the PEM given, in the
// encodings an error or a log line could leak them in: the PEM's base64, and
// the private scalar in base64, hex and decimal. Any 12 characters of them
// in a message is a leak.
func keyMaterial(t *testing.T, pems ...[]byte) []string {
	t.Helper()
	var whole []string
	for _, p := range pems {
		for {
			block, rest := pem.Decode(p)
			if block == nil {
				break
			}
			p = rest
			if !strings.Contains(block.Type, "PRIVATE KEY") {
				continue
			}
			whole = append(whole, base64.StdEncoding.EncodeToString(block.Bytes))
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatalf("test key does not parse: %v", err)
			}
			d := key.(*ecdsa.PrivateKey).D
			whole = append(whole, base64.StdEncoding.EncodeToString(d.Bytes()), hex.EncodeToString(d.Bytes()), d.String(), d.Text(16))
		}
	}
	if len(whole) == 0 {
		t.Fatal("no private key in the test data")
	}
	const window = 12
	var out []string
	for _, w := range whole {
		for i := 0; i+window <= len(w); i++ {
			out = append(out, w[i:i+window])
		}
	}
	return out
}

func assertNoKeyMaterial(t *testing.T, what, s string, material []string) {
	t.Helper()
	for _, m := range material {
		if strings.Contains(strings.ToLower(s), strings.ToLower(m)) {
			t.Fatalf("%s contains key material %q: %s", what, m, s)
		}
	}
}
