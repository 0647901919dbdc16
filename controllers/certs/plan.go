package certs

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Action is what Apply does.
type Action string

const (
	// ActionNone: nothing is due before Decision.RequeueAt.
	ActionNone Action = "None"
	// ActionCreate: a new CA and a serving certificate from it, replacing
	// whatever the bundle held.
	ActionCreate Action = "Create"
	// ActionIssueServing: a new serving certificate from the current CA.
	// Also phase 2 of a CA rotation.
	ActionIssueServing Action = "IssueServing"
	// ActionRotateCA: phase 1 of a CA rotation. A new CA becomes current and
	// the old one previous, both in ca.crt; the serving certificate stays.
	ActionRotateCA Action = "RotateCA"
	// ActionDropPreviousCA: phase 3 of a CA rotation. The previous CA leaves
	// ca.crt.
	ActionDropPreviousCA Action = "DropPreviousCA"
)

// Reason says why, in one CamelCase word: a condition and event reason.
type Reason string

// Reasons of ActionCreate.
const (
	// ReasonDoesNotExist: the Secret holds no certificates.
	ReasonDoesNotExist Reason = "DoesNotExist"
	// ReasonCAExpired: the CA is outside its validity, so nothing it signed
	// verifies; there is nothing left to keep.
	ReasonCAExpired Reason = "CAExpired"
)

// Reasons of ActionIssueServing.
const (
	// ReasonServingCertMissing: the Secret holds a CA but no serving
	// certificate.
	ReasonServingCertMissing Reason = "ServingCertMissing"
	// ReasonIncorrectIssuer: the serving certificate was signed by no CA in
	// ca.crt.
	ReasonIncorrectIssuer Reason = "IncorrectIssuer"
	// ReasonServingCertExpired: the serving certificate, or the CA that
	// signed it, is outside its validity.
	ReasonServingCertExpired Reason = "ServingCertExpired"
	// ReasonDNSNamesChanged: the serving certificate's DNS names are not
	// Settings.DNSNames.
	ReasonDNSNamesChanged Reason = "DNSNamesChanged"
	// ReasonIPAddressesChanged: the serving certificate's DNS names are
	// right but its IP addresses are not Settings.IPAddresses.
	ReasonIPAddressesChanged Reason = "IPAddressesChanged"
	// ReasonRenewing: the serving certificate reached its renewal point.
	ReasonRenewing Reason = "Renewing"
	// ReasonNewCATrusted (phase 2): the new CA has been in ca.crt for an
	// Overlap, so the serving certificate moves to it.
	ReasonNewCATrusted Reason = "NewCATrusted"
)

// Reason of ActionRotateCA.
const (
	// ReasonCARenewing (phase 1): the CA reached its renewal point.
	ReasonCARenewing Reason = "CARenewing"
)

// Reason of ActionDropPreviousCA.
const (
	// ReasonPreviousCAUnused (phase 3): the serving certificate has come from
	// the new CA for an Overlap, so no webhook server presents one from the
	// previous CA.
	ReasonPreviousCAUnused Reason = "PreviousCAUnused"
)

// Reasons of ActionNone.
const (
	// ReasonUpToDate: nothing is due.
	ReasonUpToDate Reason = "UpToDate"
	// ReasonRotationInProgress: a CA rotation waits for its Overlap.
	ReasonRotationInProgress Reason = "RotationInProgress"
	// ReasonInvalidSettings: the Settings are wrong; nothing is made until
	// they change.
	ReasonInvalidSettings Reason = "InvalidSettings"
)

// Decision is what to do with a bundle now, and why.
type Decision struct {
	Action Action
	Reason Reason
	// Message says the same for people, naming certificates and times.
	Message string
	// RequeueAt is when to plan again: now for an action (plan again once it
	// is stored), the next time something is due for ActionNone, and zero for
	// invalid settings (nothing is due until they change).
	RequeueAt time.Time
}

// planning is one Plan call's inputs, and what follows from them.
type planning struct {
	b   *Bundle
	s   Settings
	now time.Time
	// issuer is the CA that signed b.serving, when there are both.
	issuer *x509.Certificate
}

// rule is one link of the chain: a Decision and true when it applies.
type rule func(p *planning) (Decision, bool)

// rules in the order they apply: a bundle that cannot work is repaired
// first, then a rotation under way moves on, then changes asked for, then
// renewals as time passes.
var rules = []rule{
	bundleMissing,
	caNotValid,
	servingMissing,
	servingFromUnknownCA,
	servingNotValid,
	newCAPublished,
	previousCAUnused,
	namesChanged,
	caRenewalDue,
	servingRenewalDue,
}

// Plan decides what to do with b (nil when the Secret holds none) at time
// now. It is pure: it reads no clock and makes no key.
func Plan(b *Bundle, want Settings, now time.Time) Decision {
	s, err := want.complete()
	if err != nil {
		return Decision{Action: ActionNone, Reason: ReasonInvalidSettings, Message: "webhook certificate settings: " + err.Error()}
	}
	p := &planning{b: b, s: s, now: now}
	if b != nil && b.serving != nil {
		p.issuer = b.issuerOf(b.serving)
	}
	for _, r := range rules {
		if d, ok := r(p); ok {
			if d.Action != ActionNone {
				d.RequeueAt = now
			}
			return d
		}
	}
	return p.upToDate()
}

func bundleMissing(p *planning) (Decision, bool) {
	if p.b != nil {
		return Decision{}, false
	}
	return Decision{Action: ActionCreate, Reason: ReasonDoesNotExist,
		Message: "new CA and serving certificate for " + p.s.subjects() + ": the Secret holds none"}, true
}

func caNotValid(p *planning) (Decision, bool) {
	if why := invalidAt(p.b.ca, p.now); why != "" {
		return Decision{Action: ActionCreate, Reason: ReasonCAExpired,
			Message: fmt.Sprintf("new CA and serving certificate: the CA %s %s", p.b.ca.Subject.CommonName, why)}, true
	}
	return Decision{}, false
}

func servingMissing(p *planning) (Decision, bool) {
	if p.b.serving != nil {
		return Decision{}, false
	}
	return p.issue(ReasonServingCertMissing, "the Secret holds none"), true
}

func servingFromUnknownCA(p *planning) (Decision, bool) {
	if p.issuer != nil {
		return Decision{}, false
	}
	return p.issue(ReasonIncorrectIssuer, fmt.Sprintf("the one there was signed by %s, which is not in %s", p.b.serving.Issuer.CommonName, SecretKeyCACert)), true
}

// servingNotValid replaces a serving certificate that cannot verify, even in
// phase 1 of a rotation: waiting would keep admission broken.
func servingNotValid(p *planning) (Decision, bool) {
	why := invalidAt(p.b.serving, p.now)
	if why == "" {
		if why = invalidAt(p.issuer, p.now); why != "" {
			why = "was signed by " + p.issuer.Subject.CommonName + ", which " + why
		}
	}
	if why == "" {
		return Decision{}, false
	}
	return p.issue(ReasonServingCertExpired, "the one there "+why), true
}

// newCAPublished is phase 1 waiting for phase 2: the serving certificate is
// still the previous CA's. It applies until the serving certificate moves,
// so nothing else that would reissue it can slip in: the previous CA's key is
// gone, and a certificate from the new CA must wait for the overlap.
func newCAPublished(p *planning) (Decision, bool) {
	if p.b.previous == nil || p.issuer != p.b.previous {
		return Decision{}, false
	}
	due := issued(p.b.ca).Add(p.s.Overlap)
	if !p.now.Before(due) {
		return p.issue(ReasonNewCATrusted, fmt.Sprintf("the new CA has been in %s since %s", SecretKeyCACert, stamp(issued(p.b.ca)))), true
	}
	msg := fmt.Sprintf("the new CA %s is in %s next to %s; the serving certificate moves to it at %s", p.b.ca.Subject.CommonName, SecretKeyCACert, p.b.previous.Subject.CommonName, stamp(due))
	if pending := p.pendingChanges(); pending != "" {
		msg += ", which also " + pending
	}
	return Decision{Action: ActionNone, Reason: ReasonRotationInProgress, Message: msg,
		RequeueAt: earliest(p.now, due, p.b.serving.NotAfter, p.b.previous.NotAfter, p.b.ca.NotAfter)}, true
}

// pendingChanges names what phase 2 will also take care of.
func (p *planning) pendingChanges() string {
	var out []string
	if !slices.Equal(canonicalNames(p.b.serving.DNSNames), p.s.DNSNames) {
		out = append(out, "changes its DNS names")
	}
	if !slices.Equal(certAddrs(p.b.serving), p.s.IPAddresses) {
		out = append(out, "changes its IP addresses")
	}
	if !p.now.Before(renewalPoint(p.b.serving)) {
		out = append(out, "renews it")
	}
	return strings.Join(out, " and ")
}

// previousCAUnused is phase 3, due an Overlap after phase 2.
func previousCAUnused(p *planning) (Decision, bool) {
	if p.b.previous == nil || p.issuer != p.b.ca || p.now.Before(p.phase3Due()) {
		return Decision{}, false
	}
	return Decision{Action: ActionDropPreviousCA, Reason: ReasonPreviousCAUnused,
		Message: fmt.Sprintf("previous CA %s leaves %s: the serving certificate has come from %s since %s",
			p.b.previous.Subject.CommonName, SecretKeyCACert, p.b.ca.Subject.CommonName, stamp(issued(p.b.serving)))}, true
}

func (p *planning) phase3Due() time.Time { return issued(p.b.serving).Add(p.s.Overlap) }

// namesChanged reissues a serving certificate whose DNS names or IP
// addresses are not the ones wanted; the reason names DNS names if they are
// among the changes.
func namesChanged(p *planning) (Decision, bool) {
	haveNames, haveAddrs := canonicalNames(p.b.serving.DNSNames), addrStrings(certAddrs(p.b.serving))
	wantAddrs := addrStrings(p.s.IPAddresses)
	dnsSame, ipSame := slices.Equal(haveNames, p.s.DNSNames), slices.Equal(haveAddrs, wantAddrs)
	if dnsSame && ipSame {
		return Decision{}, false
	}
	var changes []string
	for _, set := range [][2][]string{{p.s.DNSNames, haveNames}, {wantAddrs, haveAddrs}} {
		want, have := set[0], set[1]
		if missing := difference(want, have); len(missing) > 0 {
			changes = append(changes, "lacks "+strings.Join(missing, ", "))
		}
		if extra := difference(have, want); len(extra) > 0 {
			changes = append(changes, "no longer needs "+strings.Join(extra, ", "))
		}
	}
	reason := ReasonDNSNamesChanged
	if dnsSame {
		reason = ReasonIPAddressesChanged
	}
	return p.issue(reason, "the one there "+strings.Join(changes, " and ")), true
}

// caRenewalDue is phase 1. It waits while the previous CA is still in
// ca.crt: one rotation at a time, and phase 3 is at most an Overlap away.
func caRenewalDue(p *planning) (Decision, bool) {
	at := renewalPoint(p.b.ca)
	if p.b.previous != nil || p.now.Before(at) {
		return Decision{}, false
	}
	return Decision{Action: ActionRotateCA, Reason: ReasonCARenewing,
		Message: fmt.Sprintf("new CA added to %s next to %s, which reached its renewal point at %s and expires at %s; the serving certificate moves to the new CA after %s",
			SecretKeyCACert, p.b.ca.Subject.CommonName, stamp(at), stamp(p.b.ca.NotAfter), p.s.Overlap)}, true
}

func servingRenewalDue(p *planning) (Decision, bool) {
	at := renewalPoint(p.b.serving)
	if p.now.Before(at) {
		return Decision{}, false
	}
	return p.issue(ReasonRenewing, fmt.Sprintf("the one there reached its renewal point at %s and expires at %s", stamp(at), stamp(p.b.serving.NotAfter))), true
}

// upToDate is the end of the chain: nothing is due until the earliest
// renewal point, expiry or phase 3.
func (p *planning) upToDate() Decision {
	d := Decision{Action: ActionNone, Reason: ReasonUpToDate}
	deadlines := []time.Time{renewalPoint(p.b.serving), p.b.serving.NotAfter, p.b.ca.NotAfter}
	if p.b.previous != nil {
		due := p.phase3Due()
		deadlines = append(deadlines, due)
		d.Reason = ReasonRotationInProgress
		d.Message = fmt.Sprintf("the serving certificate comes from the new CA %s; the previous CA %s leaves %s at %s",
			p.b.ca.Subject.CommonName, p.b.previous.Subject.CommonName, SecretKeyCACert, stamp(due))
	} else {
		deadlines = append(deadlines, renewalPoint(p.b.ca))
	}
	d.RequeueAt = earliest(p.now, deadlines...)
	if d.Message == "" {
		d.Message = fmt.Sprintf("the serving certificate from %s is renewed at %s; the CA at %s",
			p.b.ca.Subject.CommonName, stamp(renewalPoint(p.b.serving)), stamp(renewalPoint(p.b.ca)))
	}
	return d
}

// issue is an ActionIssueServing decision; why is about the serving
// certificate there now.
func (p *planning) issue(reason Reason, why string) Decision {
	return Decision{Action: ActionIssueServing, Reason: reason,
		Message: fmt.Sprintf("new serving certificate from %s for %s: %s", p.b.ca.Subject.CommonName, p.s.subjects(), why)}
}

// issued is when Apply made c: NotBefore is backdated by Backdate.
func issued(c *x509.Certificate) time.Time {
	t := c.NotBefore.Add(Backdate)
	if t.After(c.NotAfter) {
		return c.NotAfter
	}
	return t
}

// renewalPoint is two thirds of the way from c's issuing to its expiry.
func renewalPoint(c *x509.Certificate) time.Time {
	from := issued(c)
	return from.Add(c.NotAfter.Sub(from) / 3 * 2)
}

// invalidAt says why c does not verify at now, or "" when it does. A
// certificate is treated as expired at its NotAfter itself.
func invalidAt(c *x509.Certificate, now time.Time) string {
	switch {
	case now.Before(c.NotBefore):
		return "is not valid before " + stamp(c.NotBefore) + " (has the clock moved back?)"
	case !now.Before(c.NotAfter):
		return "expired at " + stamp(c.NotAfter)
	}
	return ""
}

// earliest is the earliest of ts after now. There is always one: the
// current CA's expiry, which Plan checked is ahead.
func earliest(now time.Time, ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(now) && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
}

// certAddrs is c's IP addresses in canonical form (see Settings.IPAddresses).
func certAddrs(c *x509.Certificate) []netip.Addr {
	out := make([]netip.Addr, 0, len(c.IPAddresses))
	for _, ip := range c.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a)
		}
	}
	return canonicalAddrs(out)
}

func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
