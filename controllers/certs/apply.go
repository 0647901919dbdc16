package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"time"
)

// Apply performs d, planned for b at now, and returns the new bundle; b is
// not changed. It refuses a decision that does not fit b — one planned for
// an older bundle, say — rather than make a bundle that breaks admission.
// It is the only function of the package that makes keys.
func Apply(b *Bundle, d Decision, want Settings, now time.Time) (*Bundle, error) {
	s, err := want.complete()
	if err != nil {
		return nil, fmt.Errorf("webhook certificate settings: %w", err)
	}
	now = now.UTC().Truncate(time.Second)
	if d.Action != ActionNone && d.Action != ActionCreate && (b == nil || b.ca == nil) {
		return nil, fmt.Errorf("cannot %s: there is no CA", d.Action)
	}
	switch d.Action {
	case ActionNone:
		return b, nil
	case ActionCreate:
		next := &Bundle{}
		if next.ca, next.caKey, next.caKeyPK, err = newCA(s, now); err != nil {
			return nil, err
		}
		if next.serving, next.servingKey, next.servingPK, err = newServing(next.ca, next.caKey, s, now); err != nil {
			return nil, err
		}
		return next, nil
	case ActionIssueServing:
		if why := invalidAt(b.ca, now); why != "" {
			return nil, fmt.Errorf("cannot issue a serving certificate: the CA %s", why)
		}
		next := *b
		if next.serving, next.servingKey, next.servingPK, err = newServing(b.ca, b.caKey, s, now); err != nil {
			return nil, err
		}
		return &next, nil
	case ActionRotateCA:
		if b.previous != nil {
			return nil, errors.New("cannot start a CA rotation: the previous one has not finished")
		}
		next := *b
		next.previous = b.ca
		if next.ca, next.caKey, next.caKeyPK, err = newCA(s, now); err != nil {
			return nil, err
		}
		return &next, nil
	case ActionDropPreviousCA:
		switch {
		case b.previous == nil:
			return nil, errors.New("cannot drop the previous CA: there is none")
		case b.serving != nil && b.issuerOf(b.serving) != b.ca:
			return nil, errors.New("cannot drop the previous CA: the serving certificate does not come from the current CA yet")
		}
		next := *b
		next.previous = nil
		return &next, nil
	}
	return nil, fmt.Errorf("unknown action %q", d.Action)
}

// newCA makes a self-signed CA that may sign only leaf certificates.
func newCA(s Settings, now time.Time) (*x509.Certificate, crypto.Signer, []byte, error) {
	key, pk, err := newKey()
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s@%d", s.CAName, now.Unix())},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(s.CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("making the webhook CA: %w", err)
	}
	return cert, key, pk, nil
}

// newServing makes a serving certificate for s.DNSNames and s.IPAddresses
// from ca, valid for s.ServingValidity or until ca expires, whichever is
// first.
func newServing(ca *x509.Certificate, caKey crypto.Signer, s Settings, now time.Time) (*x509.Certificate, crypto.Signer, []byte, error) {
	key, pk, err := newKey()
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	notAfter := now.Add(s.ServingValidity)
	if ca.NotAfter.Before(notAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: s.DNSNames[0]},
		DNSNames:              s.DNSNames,
		IPAddresses:           ipList(s.IPAddresses),
		NotBefore:             now.Add(-Backdate),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	cert, err := sign(tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("making the webhook serving certificate: %w", err)
	}
	return cert, key, pk, nil
}

// ipList is addrs as x509 stores them: four bytes for IPv4, sixteen for
// IPv6; nil for none, so a certificate without addresses has no empty list.
func ipList(addrs []netip.Addr) []net.IP {
	var out []net.IP
	for _, a := range addrs {
		out = append(out, net.IP(a.AsSlice()))
	}
	return out
}

// sign returns the certificate as parsed back from its DER, so a bundle
// fresh from Apply and one read back from the Secret are the same.
func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating a P-256 key: %w", err)
	}
	pk, err := encodeKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding a P-256 key: %w", err)
	}
	return key, pk, nil
}

// newSerial is 128 random bits, as CAs are required to use at least 64.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}
