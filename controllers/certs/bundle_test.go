package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestSecretKeysAreTheConventionalNames(t *testing.T) {
	// The Secret mounts as controller-runtime's certificate directory and
	// reads like a cert-manager Secret only if these hold.
	for ours, theirs := range map[string]string{
		SecretKeyTLSCert: corev1.TLSCertKey,
		SecretKeyTLSKey:  corev1.TLSPrivateKeyKey,
		SecretKeyCACert:  corev1.ServiceAccountRootCAKey,
	} {
		if ours != theirs {
			t.Errorf("data key %q, want %q", ours, theirs)
		}
	}
}

func TestCACertHoldsTheCurrentCAFirstAndThePreviousWhileNeeded(t *testing.T) {
	r := rotate(t)
	cases := map[string]struct {
		bundle *Bundle
		want   []*x509.Certificate
	}{
		"a new bundle publishes its CA":            {bundle: r.made, want: []*x509.Certificate{r.made.CA()}},
		"phase 1 publishes the new CA and the old": {bundle: r.phase1, want: []*x509.Certificate{r.phase1.CA(), r.made.CA()}},
		"phase 2 still publishes both":             {bundle: r.phase2, want: []*x509.Certificate{r.phase1.CA(), r.made.CA()}},
		"phase 3 publishes the new CA alone":       {bundle: r.phase3, want: []*x509.Certificate{r.phase1.CA()}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			data := tc.bundle.SecretData()
			if !bytes.Equal(data[SecretKeyCACert], tc.bundle.CABundle()) {
				t.Fatal("ca.crt and CABundle differ")
			}
			got, problem := parseCerts(data[SecretKeyCACert])
			if problem != "" {
				t.Fatal(problem)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("ca.crt holds %d certificates, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Errorf("ca.crt certificate %d is %s, want %s", i+1, got[i].Subject.CommonName, tc.want[i].Subject.CommonName)
				}
			}
		})
	}
}

func TestParseOfNothingIsNoBundle(t *testing.T) {
	for name, data := range map[string]map[string][]byte{
		"a nil map":                          nil,
		"an empty map":                       {},
		"only keys that are not ours":        {"README": []byte("hello")},
		"our keys, all empty (a new Secret)": {SecretKeyCACert: nil, SecretKeyCAKey: {}, SecretKeyTLSCert: {}, SecretKeyTLSKey: {}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Parse(data)
			if b != nil || err != nil {
				t.Fatalf("Parse = %v, %v; want no bundle and no error", b, err)
			}
		})
	}
}

func TestParseAcceptsASEC1Key(t *testing.T) {
	b := mustApply(t, nil, ActionCreate, settings(), start)
	data := b.SecretData()
	der, err := x509.MarshalECPrivateKey(b.caKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	data[SecretKeyCAKey] = pem.EncodeToMemory(&pem.Block{Type: pemSEC1, Bytes: der})
	back, err := Parse(data)
	if err != nil {
		t.Fatalf("an EC PRIVATE KEY does not parse: %v", err)
	}
	if !bytes.Equal(back.SecretData()[SecretKeyCAKey], b.SecretData()[SecretKeyCAKey]) {
		t.Error("the key is not written back as PKCS #8")
	}
}

func TestParseRefuses(t *testing.T) {
	s := settings()
	r := rotate(t)
	good := r.made.SecretData()
	other := mustApply(t, nil, ActionCreate, s, start).SecretData()
	garbage := []byte("not PEM at all")
	badKeyBlock := pem.EncodeToMemory(&pem.Block{Type: pemPKCS8, Bytes: []byte("garbage where a key belongs")})
	chain := append(bytes.Clone(good[SecretKeyTLSCert]), good[SecretKeyCACert]...)
	threeCAs := append(bytes.Clone(r.phase1.SecretData()[SecretKeyCACert]), other[SecretKeyCACert]...)
	keyInCACert := append(bytes.Clone(good[SecretKeyCACert]), good[SecretKeyCAKey]...)

	cases := map[string]struct {
		base   map[string][]byte
		change map[string][]byte // nil value: delete the key
		// key is the data key the error must name.
		key string
	}{
		"garbage in ca.crt":                                  {change: map[string][]byte{SecretKeyCACert: garbage}, key: SecretKeyCACert},
		"ca.crt missing while the rest is there":             {change: map[string][]byte{SecretKeyCACert: nil}, key: SecretKeyCACert},
		"a private key where ca.crt belongs":                 {change: map[string][]byte{SecretKeyCACert: good[SecretKeyCAKey]}, key: SecretKeyCACert},
		"a private key appended to ca.crt":                   {change: map[string][]byte{SecretKeyCACert: keyInCACert}, key: SecretKeyCACert},
		"three CAs in ca.crt":                                {change: map[string][]byte{SecretKeyCACert: threeCAs}, key: SecretKeyCACert},
		"the serving certificate in ca.crt":                  {change: map[string][]byte{SecretKeyCACert: good[SecretKeyTLSCert]}, key: SecretKeyCACert},
		"the same CA twice in ca.crt":                        {change: map[string][]byte{SecretKeyCACert: bytes.Repeat(good[SecretKeyCACert], 2)}, key: SecretKeyCACert},
		"text after the certificates in ca.crt":              {change: map[string][]byte{SecretKeyCACert: append(bytes.Clone(good[SecretKeyCACert]), garbage...)}, key: SecretKeyCACert},
		"ca.key missing":                                     {change: map[string][]byte{SecretKeyCAKey: nil}, key: SecretKeyCAKey},
		"ca.key of another CA":                               {change: map[string][]byte{SecretKeyCAKey: other[SecretKeyCAKey]}, key: SecretKeyCAKey},
		"ca.key holding the serving key":                     {change: map[string][]byte{SecretKeyCAKey: good[SecretKeyTLSKey]}, key: SecretKeyCAKey},
		"a PEM private key block that is not a key":          {change: map[string][]byte{SecretKeyCAKey: badKeyBlock}, key: SecretKeyCAKey},
		"a certificate where ca.key belongs":                 {change: map[string][]byte{SecretKeyCAKey: good[SecretKeyCACert]}, key: SecretKeyCAKey},
		"garbage in ca.key":                                  {change: map[string][]byte{SecretKeyCAKey: garbage}, key: SecretKeyCAKey},
		"tls.key not matching tls.crt":                       {change: map[string][]byte{SecretKeyTLSKey: other[SecretKeyTLSKey]}, key: SecretKeyTLSKey},
		"tls.key holding the CA's key":                       {change: map[string][]byte{SecretKeyTLSKey: good[SecretKeyCAKey]}, key: SecretKeyTLSKey},
		"tls.crt from another CA, with its own key":          {change: map[string][]byte{SecretKeyTLSCert: other[SecretKeyTLSCert], SecretKeyTLSKey: other[SecretKeyTLSKey]}, key: SecretKeyTLSCert},
		"tls.crt and tls.key swapped":                        {change: map[string][]byte{SecretKeyTLSCert: good[SecretKeyTLSKey], SecretKeyTLSKey: good[SecretKeyTLSCert]}, key: SecretKeyTLSCert},
		"garbage in tls.crt":                                 {change: map[string][]byte{SecretKeyTLSCert: garbage}, key: SecretKeyTLSCert},
		"a chain in tls.crt":                                 {change: map[string][]byte{SecretKeyTLSCert: chain}, key: SecretKeyTLSCert},
		"tls.crt without tls.key":                            {change: map[string][]byte{SecretKeyTLSKey: nil}, key: SecretKeyTLSKey},
		"tls.key without tls.crt":                            {change: map[string][]byte{SecretKeyTLSCert: nil}, key: SecretKeyTLSCert},
		"a phase 1 serving certificate whose CA left ca.crt": {base: r.phase1.SecretData(), change: map[string][]byte{SecretKeyCACert: encodeCert(r.phase1.CA())}, key: SecretKeyTLSCert},
	}
	material := keyMaterial(t, good[SecretKeyCAKey], good[SecretKeyTLSKey], other[SecretKeyCAKey], other[SecretKeyTLSKey], r.phase1.SecretData()[SecretKeyCAKey])
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			data := cloneData(good)
			if tc.base != nil {
				data = cloneData(tc.base)
			}
			for k, v := range tc.change {
				if v == nil {
					delete(data, k)
				} else {
					data[k] = v
				}
			}
			b, err := Parse(data)
			if err == nil {
				t.Fatalf("Parse accepted it: %s", b)
			}
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if perr.Key != tc.key {
				t.Errorf("the error names %s, want %s: %v", perr.Key, tc.key, err)
			}
			assertNoKeyMaterial(t, "the error", err.Error(), material)
			if !perr.ServingOnly() {
				return
			}
			// The CA is sound: without the serving pair the data parses, and
			// the plan replaces it from the same CA, keeping the caBundle.
			delete(data, SecretKeyTLSCert)
			delete(data, SecretKeyTLSKey)
			repaired, err := Parse(data)
			if err != nil {
				t.Fatalf("a serving-only error, yet without tls.crt and tls.key: %v", err)
			}
			if d := Plan(repaired, s, issued(repaired.CA()).Add(day)); d.Action != ActionIssueServing {
				t.Errorf("the repaired bundle plans %s (%s), want a new serving certificate", d.Action, d.Reason)
			}
		})
	}
}

func TestPrintingABundleShowsNoKey(t *testing.T) {
	r := rotate(t)
	b := r.phase2
	data := b.SecretData()
	material := keyMaterial(t, data[SecretKeyCAKey], data[SecretKeyTLSKey])
	for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
		assertNoKeyMaterial(t, verb+" of a *Bundle", fmt.Sprintf(verb, b), material)
		assertNoKeyMaterial(t, verb+" of a Bundle", fmt.Sprintf(verb, *b), material)
	}
	var none *Bundle
	if got := fmt.Sprint(none); got != "<nil>" {
		t.Errorf("a nil bundle prints as %q", got)
	}
}
