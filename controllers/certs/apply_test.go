package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCreateMakesAP256CAAndAServingCertificateForTheNames(t *testing.T) {
	b := mustApply(t, nil, ActionCreate, withNames(svcCL, svc), start)
	ca, serving := b.CA(), b.Serving()

	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Error("the CA is not a CA limited to signing leaf certificates")
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("the CA is not self-signed: %v", err)
	}
	if !strings.HasPrefix(ca.Subject.CommonName, DefaultCAName+"@") {
		t.Errorf("the CA is named %q", ca.Subject.CommonName)
	}
	if !ca.NotBefore.Equal(start.Add(-Backdate)) || !ca.NotAfter.Equal(start.Add(DefaultCAValidity)) {
		t.Errorf("the CA is valid %s to %s, want from an hour before %s for a year", stamp(ca.NotBefore), stamp(ca.NotAfter), stamp(start))
	}
	if !serving.NotBefore.Equal(start.Add(-Backdate)) || !serving.NotAfter.Equal(start.Add(DefaultServingValidity)) {
		t.Errorf("the serving certificate is valid %s to %s, want from an hour before %s for 90 days", stamp(serving.NotBefore), stamp(serving.NotAfter), stamp(start))
	}
	for name, pub := range map[string]any{"CA": ca.PublicKey, "serving": serving.PublicKey} {
		if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Errorf("the %s key is %T, want ECDSA P-256", name, pub)
		}
	}
	if want := []string{svc, svcCL}; !slices.Equal(serving.DNSNames, want) || serving.Subject.CommonName != svc {
		t.Errorf("the serving certificate is %q for %q, want %q", serving.Subject.CommonName, serving.DNSNames, want)
	}
	if serving.IsCA || !slices.Equal(serving.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Error("the serving certificate is not a server-only leaf")
	}
	if err := verify(b.CABundle(), serving, []string{svc, svcCL}, start); err != nil {
		t.Errorf("the API server would refuse it: %v", err)
	}
	if b.PreviousCA() != nil {
		t.Error("a new bundle has a previous CA")
	}
}

func TestAServingCertificateForIPAddressesVerifiesAtThem(t *testing.T) {
	b := mustApply(t, nil, ActionCreate, withAddrs(netip.MustParseAddr("::1"), netip.MustParseAddr("::ffff:127.0.0.1")), start)
	serving := b.Serving()
	if len(serving.IPAddresses) != 2 || len(serving.IPAddresses[0]) != net.IPv4len || !serving.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) ||
		!serving.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Fatalf("the serving certificate's addresses are %v, want 127.0.0.1 (in four bytes) and ::1", serving.IPAddresses)
	}
	if serving.Subject.CommonName != svc {
		t.Errorf("the serving certificate is named %q, want its first DNS name", serving.Subject.CommonName)
	}
	// What the API server checks when a webhook configuration's URL is https://127.0.0.1:9443/...
	if err := verify(b.CABundle(), serving, []string{"127.0.0.1", "::1", svc, svcCL}, start); err != nil {
		t.Errorf("the API server would refuse it: %v", err)
	}
	if err := verify(b.CABundle(), serving, []string{"10.0.0.1"}, start); err == nil {
		t.Error("the serving certificate verifies at an address it was not made for")
	}
	if without := mustApply(t, nil, ActionCreate, settings(), start).Serving(); without.IPAddresses != nil {
		t.Errorf("without IP addresses in the settings, the serving certificate has %v", without.IPAddresses)
	}
	if !strings.Contains(b.String(), "127.0.0.1") {
		t.Errorf("the bundle's description does not name its address: %s", b)
	}
}

func TestAServingCertificateNeverOutlivesItsCA(t *testing.T) {
	s := settings()
	b := mustApply(t, nil, ActionCreate, s, start)
	late := start.Add(DefaultCAValidity - 10*day)
	renewed := mustApply(t, b, ActionIssueServing, s, late)
	if got := renewed.Serving().NotAfter; !got.Equal(b.CA().NotAfter) {
		t.Errorf("issued 10 days before its CA expires, the serving certificate expires at %s, want the CA's %s", stamp(got), stamp(b.CA().NotAfter))
	}
}

func TestEachPhaseChangesOnlyItsPart(t *testing.T) {
	r := rotate(t)
	if !r.phase1.Serving().Equal(r.beforeCA.Serving()) || !r.phase1.PreviousCA().Equal(r.beforeCA.CA()) || r.phase1.CA().Equal(r.beforeCA.CA()) {
		t.Error("phase 1 must add a new CA and keep the serving certificate")
	}
	if r.phase2.Serving().CheckSignatureFrom(r.phase1.CA()) != nil || !r.phase2.PreviousCA().Equal(r.beforeCA.CA()) {
		t.Error("phase 2 must move the serving certificate to the new CA and keep the old CA")
	}
	if r.phase3.PreviousCA() != nil || !r.phase3.Serving().Equal(r.phase2.Serving()) || !r.phase3.CA().Equal(r.phase1.CA()) {
		t.Error("phase 3 must drop the old CA and nothing else")
	}
	if r.beforeCA.PreviousCA() != nil || r.phase1.CA().Subject.CommonName == r.beforeCA.CA().Subject.CommonName {
		t.Error("two CAs in one caBundle must have different names")
	}
}

func TestApplyRefusesADecisionThatDoesNotFit(t *testing.T) {
	r := rotate(t)
	cases := map[string]struct {
		bundle  *Bundle
		action  Action
		at      time.Time
		wantErr string
	}{
		"a serving certificate without a CA": {
			bundle: nil, action: ActionIssueServing, at: start, wantErr: "no CA",
		},
		"a second rotation before the first has finished": {
			bundle: r.phase2, action: ActionRotateCA, at: r.t3, wantErr: "has not finished",
		},
		"dropping the previous CA while the serving certificate is still its": {
			bundle: r.phase1, action: ActionDropPreviousCA, at: r.t2, wantErr: "does not come from the current CA",
		},
		"dropping a previous CA there is not": {
			bundle: r.phase3, action: ActionDropPreviousCA, at: r.t3, wantErr: "there is none",
		},
		"a serving certificate from an expired CA": {
			bundle: r.made, action: ActionIssueServing, at: start.Add(DefaultCAValidity), wantErr: "expired",
		},
		"an action it does not know": {
			bundle: r.made, action: "Reticulate", at: start, wantErr: "unknown action",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Apply(tc.bundle, Decision{Action: tc.action}, settings(), tc.at)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Apply = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
	if _, err := Apply(nil, Decision{Action: ActionCreate}, Settings{}, start); err == nil {
		t.Error("Apply made certificates without DNS names")
	}
}

func TestApplyLeavesItsInputAlone(t *testing.T) {
	r := rotate(t)
	before := r.phase1.SecretData()
	for _, a := range []Action{ActionIssueServing, ActionNone} {
		next := mustApply(t, r.phase1, a, settings(), r.t2)
		if a == ActionNone && next != r.phase1 {
			t.Error("ActionNone made a new bundle")
		}
	}
	for k, v := range r.phase1.SecretData() {
		if string(before[k]) != string(v) {
			t.Errorf("Apply changed its input's %s", k)
		}
	}
}
