package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
)

// Data keys of the webhook certificate Secret.
const (
	// SecretKeyCACert holds the caBundle to publish: the current CA first,
	// then the previous CA while a rotation still needs it.
	SecretKeyCACert = "ca.crt"
	// SecretKeyCAKey holds the current CA's private key.
	SecretKeyCAKey = "ca.key"
	// SecretKeyTLSCert holds the serving certificate, without its CA. It is
	// corev1.TLSCertKey and controller-runtime's default webhook CertName.
	SecretKeyTLSCert = "tls.crt"
	// SecretKeyTLSKey holds the serving certificate's private key. It is
	// corev1.TLSPrivateKeyKey and controller-runtime's default KeyName.
	SecretKeyTLSKey = "tls.key"
)

const (
	pemCertificate = "CERTIFICATE"
	pemPKCS8       = "PRIVATE KEY"
	pemSEC1        = "EC PRIVATE KEY"
)

// Bundle is the webhook's certificates as kept in one Secret. Only Parse and
// Apply make one, so a Bundle always hangs together: each key matches its
// certificate and the serving certificate was signed by the current or the
// previous CA. It is never changed once made.
//
// Its keys are not reachable from outside the package except through
// SecretData, and it prints as a summary without them.
type Bundle struct {
	ca      *x509.Certificate
	caKey   crypto.Signer
	caKeyPK []byte // caKey as PKCS #8 PEM
	// previous is the CA before the current one, while ca.crt still needs it.
	previous   *x509.Certificate
	serving    *x509.Certificate // nil when the Secret lost it
	servingKey crypto.Signer
	servingPK  []byte
}

// CA is the current CA, which signs new serving certificates.
func (b *Bundle) CA() *x509.Certificate { return b.ca }

// PreviousCA is the CA being rotated out, or nil.
func (b *Bundle) PreviousCA() *x509.Certificate { return b.previous }

// Serving is the serving certificate, or nil when the Secret lost it.
func (b *Bundle) Serving() *x509.Certificate { return b.serving }

// CABundle is the PEM to publish as the webhook configurations' caBundle,
// the same as the Secret's ca.crt.
func (b *Bundle) CABundle() []byte {
	out := encodeCert(b.ca)
	if b.previous != nil {
		out = append(out, encodeCert(b.previous)...)
	}
	return out
}

// SecretData is the Secret's data for b. Encoding is canonical, so
// SecretData of a parsed bundle equals the data it was parsed from once the
// operator has written it, and an unchanged bundle never causes a write.
func (b *Bundle) SecretData() map[string][]byte {
	data := map[string][]byte{
		SecretKeyCACert: b.CABundle(),
		SecretKeyCAKey:  bytes.Clone(b.caKeyPK),
	}
	if b.serving != nil {
		data[SecretKeyTLSCert] = encodeCert(b.serving)
		data[SecretKeyTLSKey] = bytes.Clone(b.servingPK)
	}
	return data
}

// String describes b by names, serial numbers and dates; never keys.
func (b Bundle) String() string {
	var s strings.Builder
	s.WriteString("CA " + describe(b.ca))
	if b.previous != nil {
		s.WriteString("; previous CA " + describe(b.previous))
	}
	if b.serving == nil {
		s.WriteString("; no serving certificate")
	} else {
		names := append(slices.Clone(b.serving.DNSNames), addrStrings(certAddrs(b.serving))...)
		fmt.Fprintf(&s, "; serving certificate for %s from %s (serial %x, valid %s to %s)", strings.Join(names, ","),
			b.serving.Issuer.CommonName, b.serving.SerialNumber, stamp(b.serving.NotBefore), stamp(b.serving.NotAfter))
	}
	return s.String()
}

// GoString keeps %#v from printing the keys.
func (b Bundle) GoString() string { return "certs.Bundle{" + b.String() + "}" }

func describe(c *x509.Certificate) string {
	if c == nil {
		return "<none>"
	}
	return fmt.Sprintf("%s (serial %x, valid %s to %s)", c.Subject.CommonName, c.SerialNumber, stamp(c.NotBefore), stamp(c.NotAfter))
}

// issuerOf is the CA of b that signed c: the current, the previous, or nil.
func (b *Bundle) issuerOf(c *x509.Certificate) *x509.Certificate {
	for _, ca := range []*x509.Certificate{b.ca, b.previous} {
		if ca != nil && c.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// ParseError is why Parse refused the Secret's data. It names the data key
// at fault and never quotes the data.
type ParseError struct {
	// Key is the Secret data key at fault, one of the SecretKey constants.
	Key string
	// Problem says what is wrong with it.
	Problem string
}

func (e *ParseError) Error() string { return e.Key + ": " + e.Problem }

// ServingOnly reports that the CA parsed and only the serving certificate or
// its key is at fault: without tls.crt and tls.key the data parses, and a new
// serving certificate from the same CA repairs it without a caBundle change.
func (e *ParseError) ServingOnly() bool {
	return e.Key == SecretKeyTLSCert || e.Key == SecretKeyTLSKey
}

// Parse reads a Bundle from a Secret's data. It returns nil and no error when
// the data holds none of the four keys (a new or emptied Secret), and a
// *ParseError when what it holds does not make a bundle: see ParseError.
// Other keys are ignored. The CA is checked before the serving certificate,
// so a serving-only error means the CA is sound.
func Parse(data map[string][]byte) (*Bundle, error) {
	if len(data[SecretKeyCACert]) == 0 && len(data[SecretKeyCAKey]) == 0 &&
		len(data[SecretKeyTLSCert]) == 0 && len(data[SecretKeyTLSKey]) == 0 {
		return nil, nil
	}
	b := &Bundle{}
	cas, problem := parseCerts(data[SecretKeyCACert])
	switch {
	case problem != "":
		return nil, &ParseError{SecretKeyCACert, problem}
	case len(cas) > 2:
		return nil, &ParseError{SecretKeyCACert, fmt.Sprintf("holds %d certificates; at most two (the current and the previous CA) belong there", len(cas))}
	}
	for i, c := range cas {
		if !c.BasicConstraintsValid || !c.IsCA {
			return nil, &ParseError{SecretKeyCACert, fmt.Sprintf("certificate %d (%s) is not a CA certificate", i+1, c.Subject.CommonName)}
		}
	}
	b.ca = cas[0]
	if len(cas) == 2 {
		if cas[1].Equal(cas[0]) {
			return nil, &ParseError{SecretKeyCACert, "holds the same CA twice"}
		}
		b.previous = cas[1]
	}
	var err *ParseError
	if b.caKey, b.caKeyPK, err = parseKeyFor(SecretKeyCAKey, data[SecretKeyCAKey], b.ca, "the current CA (the first certificate in "+SecretKeyCACert+")"); err != nil {
		return nil, err
	}

	tlsCert, tlsKey := data[SecretKeyTLSCert], data[SecretKeyTLSKey]
	switch {
	case len(tlsCert) == 0 && len(tlsKey) == 0:
		return b, nil
	case len(tlsCert) == 0:
		return nil, &ParseError{SecretKeyTLSCert, "is missing while " + SecretKeyTLSKey + " is present"}
	}
	certs, problem := parseCerts(tlsCert)
	switch {
	case problem != "":
		return nil, &ParseError{SecretKeyTLSCert, problem}
	case len(certs) != 1:
		return nil, &ParseError{SecretKeyTLSCert, fmt.Sprintf("holds %d certificates; only the serving certificate belongs there", len(certs))}
	}
	b.serving = certs[0]
	if b.issuerOf(b.serving) == nil {
		return nil, &ParseError{SecretKeyTLSCert, fmt.Sprintf("the serving certificate (issuer %s) was not signed by any CA in %s", b.serving.Issuer.CommonName, SecretKeyCACert)}
	}
	if len(tlsKey) == 0 {
		return nil, &ParseError{SecretKeyTLSKey, "is missing while " + SecretKeyTLSCert + " is present"}
	}
	if b.servingKey, b.servingPK, err = parseKeyFor(SecretKeyTLSKey, tlsKey, b.serving, "the serving certificate in "+SecretKeyTLSCert); err != nil {
		return nil, err
	}
	return b, nil
}

// parseCerts reads one or more PEM certificates and nothing else. x509's
// errors are kept: a certificate is public, and they quote no input.
func parseCerts(data []byte) ([]*x509.Certificate, string) {
	var out []*x509.Certificate
	rest := data
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		if block.Type != pemCertificate {
			return nil, fmt.Sprintf("holds a %q PEM block where only certificates belong", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Sprintf("certificate %d does not parse: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	switch {
	case len(out) == 0 && len(data) == 0:
		return nil, "is missing"
	case len(out) == 0:
		return nil, "holds no PEM certificate"
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, "holds something other than PEM certificates after them"
	}
	return out, ""
}

// parseKeyFor reads one PEM private key (PKCS #8, or SEC 1 for EC) and
// checks it belongs to cert. It returns the key and its canonical PKCS #8
// PEM. None of its messages wrap a parser's error: those could describe the
// bytes of a key.
func parseKeyFor(key string, data []byte, cert *x509.Certificate, certName string) (crypto.Signer, []byte, *ParseError) {
	if len(data) == 0 {
		return nil, nil, &ParseError{key, "is missing"}
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, &ParseError{key, "holds no PEM block"}
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, nil, &ParseError{key, "holds something other than one PEM private key"}
	}
	var parsed any
	var err error
	switch block.Type {
	case pemPKCS8:
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemSEC1:
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, nil, &ParseError{key, fmt.Sprintf("holds a %q PEM block where a private key belongs", block.Type)}
	}
	if err != nil {
		return nil, nil, &ParseError{key, fmt.Sprintf("the %q PEM block is not a valid private key", block.Type)}
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, nil, &ParseError{key, "holds a key that cannot sign"}
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, &ParseError{key, "does not match " + certName}
	}
	pk, err := encodeKey(signer)
	if err != nil {
		return nil, nil, &ParseError{key, "holds a key of a type that cannot be stored as PKCS #8"}
	}
	return signer, pk, nil
}

func encodeCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: c.Raw})
}

func encodeKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPKCS8, Bytes: der}), nil
}
