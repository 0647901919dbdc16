package certs

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Defaults for the zero values of Settings.
const (
	DefaultCAName          = "jack-operator-webhook-ca"
	DefaultCAValidity      = 365 * 24 * time.Hour
	DefaultServingValidity = 90 * 24 * time.Hour
	// DefaultOverlap: see the package documentation for what it covers.
	DefaultOverlap = time.Hour
)

// Backdate is how far before its making a certificate's NotBefore is set, so
// an API server whose clock is behind the operator's still accepts it.
// Kubernetes backdates its self-signed certificates by the same hour. Plan
// reads a certificate's issuing time as NotBefore+Backdate.
const Backdate = time.Hour

// Settings are what the operator wants of its webhook certificates. Zero
// fields take the defaults, except DNSNames, which are required.
type Settings struct {
	// DNSNames are the names the API server dials the webhook by, such as
	// webhook-service.jack-system.svc and
	// webhook-service.jack-system.svc.cluster.local. The serving certificate
	// has exactly these (compared case-insensitively, in any order).
	DNSNames []string
	// IPAddresses are addresses the API server dials the webhook at
	// directly: a webhook configuration whose clientConfig is a URL such as
	// https://127.0.0.1:9443/..., as a local control plane or a test has.
	// The serving certificate has exactly these too, in any order; IPv4
	// addresses mapped into IPv6 count as IPv4. Optional: a webhook behind a
	// Service needs none.
	IPAddresses []netip.Addr
	// CAName starts the CA's common name, which ends in "@" and the Unix
	// time the CA was made.
	CAName string
	// CAValidity is how long a new CA is valid.
	CAValidity time.Duration
	// ServingValidity is how long a new serving certificate is valid; never
	// beyond its CA.
	ServingValidity time.Duration
	// Overlap is how long a new CA is in caBundle before the serving
	// certificate moves to it, and how long the serving certificate comes
	// from the new CA before the old one leaves caBundle. At most a sixth of
	// either validity.
	Overlap time.Duration
}

// Validate says what is wrong with s, if anything.
func (s Settings) Validate() error {
	_, err := s.complete()
	return err
}

// complete fills in the defaults, puts the DNS names in canonical form
// (lower case, sorted, once each) and checks the result.
func (s Settings) complete() (Settings, error) {
	if s.CAName == "" {
		s.CAName = DefaultCAName
	}
	if s.CAValidity == 0 {
		s.CAValidity = DefaultCAValidity
	}
	if s.ServingValidity == 0 {
		s.ServingValidity = DefaultServingValidity
	}
	if s.Overlap == 0 {
		s.Overlap = DefaultOverlap
	}
	s.DNSNames = canonicalNames(s.DNSNames)
	s.IPAddresses = canonicalAddrs(s.IPAddresses)
	switch {
	case len(s.DNSNames) == 0:
		return s, fmt.Errorf("no DNS names for the serving certificate: name the webhook Service, such as <service>.<namespace>.svc")
	case s.CAValidity < 0 || s.ServingValidity < 0 || s.Overlap < 0:
		return s, fmt.Errorf("validities and overlap must be positive (CA %s, serving %s, overlap %s)", s.CAValidity, s.ServingValidity, s.Overlap)
	case s.Overlap > s.CAValidity/6 || s.Overlap > s.ServingValidity/6:
		// A renewal point leaves a third of a life; a CA rotation needs two
		// overlaps of it, and a serving renewal may wait one.
		return s, fmt.Errorf("overlap %s is longer than a sixth of the CA validity (%s) or of the serving validity (%s)", s.Overlap, s.CAValidity, s.ServingValidity)
	}
	for _, n := range s.DNSNames {
		if !validDNSName(n) {
			return s, fmt.Errorf("%q is not a DNS name", n)
		}
	}
	for _, a := range s.IPAddresses {
		switch {
		case !a.IsValid():
			return s, fmt.Errorf("an IP address for the serving certificate is empty")
		case a.Zone() != "":
			// A certificate holds the address's bytes; there is no room for a zone.
			return s, fmt.Errorf("IP address %s has a zone, which a certificate cannot hold", a)
		}
	}
	return s, nil
}

// canonicalAddrs sorts addrs, once each, with IPv4-mapped IPv6 addresses as
// IPv4: x509 stores an IPv4 address in four bytes either way.
func canonicalAddrs(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Unmap())
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// subjects lists the names and addresses a serving certificate is for, as
// messages name them.
func (s Settings) subjects() string {
	return strings.Join(append(slices.Clone(s.DNSNames), addrStrings(s.IPAddresses)...), ", ")
}

func canonicalNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.ToLower(strings.TrimSpace(n)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// validDNSName accepts what a Service's DNS name can be: dot-separated
// labels of letters, digits and hyphens, neither starting nor ending with a
// hyphen.
func validDNSName(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}
