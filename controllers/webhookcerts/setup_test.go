package webhookcerts

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/jack-io/jack-operator/controllers/certs"
)

func TestSettingsAreCheckedBeforeAnythingRuns(t *testing.T) {
	good := func() *Reconciler {
		return &Reconciler{
			Secret: types.NamespacedName{Namespace: "jack-system", Name: "jack-operator-webhook-certs"}, Settings: testSettings(),
			ValidatingWebhookConfigurations: []string{validatingName}, MutatingWebhookConfigurations: []string{mutatingName},
		}
	}
	cases := map[string]struct {
		change  func(*Reconciler)
		wantErr string
	}{
		"the operator's defaults":                 {change: func(*Reconciler) {}},
		"only a mutating configuration is enough": {change: func(r *Reconciler) { r.ValidatingWebhookConfigurations = nil }},
		"a Secret without a namespace": {
			change: func(r *Reconciler) { r.Secret.Namespace = "" }, wantErr: "namespace and a name",
		},
		"settings certs refuses": {
			change: func(r *Reconciler) { r.Settings.DNSNames = nil }, wantErr: "no DNS names",
		},
		"no configuration to publish the CA in": {
			change:  func(r *Reconciler) { r.ValidatingWebhookConfigurations, r.MutatingWebhookConfigurations = nil, nil },
			wantErr: "no webhook configuration",
		},
		"an empty configuration name (a flag set to \"\")": {
			change: func(r *Reconciler) { r.MutatingWebhookConfigurations = []string{""} }, wantErr: "name is empty",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := good()
			tc.change(r)
			err := r.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestServiceDNSNamesAreTheNamesAServiceIsDialledBy(t *testing.T) {
	got := ServiceDNSNames("jack-operator-webhook", "jack-system")
	want := []string{"jack-operator-webhook.jack-system.svc", "jack-operator-webhook.jack-system.svc.cluster.local"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ServiceDNSNames = %q, want %q", got, want)
	}
}

func TestRepairsAreWarningsAndChangesThatComeWithTimeAreNormal(t *testing.T) {
	cases := map[certs.Reason]string{
		certs.ReasonDoesNotExist:       corev1.EventTypeNormal,
		certs.ReasonRenewing:           corev1.EventTypeNormal,
		certs.ReasonCARenewing:         corev1.EventTypeNormal,
		certs.ReasonNewCATrusted:       corev1.EventTypeNormal,
		certs.ReasonPreviousCAUnused:   corev1.EventTypeNormal,
		certs.ReasonDNSNamesChanged:    corev1.EventTypeNormal,
		certs.ReasonIPAddressesChanged: corev1.EventTypeNormal,
		certs.ReasonCAExpired:          corev1.EventTypeWarning,
		certs.ReasonServingCertExpired: corev1.EventTypeWarning,
		certs.ReasonServingCertMissing: corev1.EventTypeWarning,
		certs.ReasonIncorrectIssuer:    corev1.EventTypeWarning,
		certs.ReasonInvalidSettings:    corev1.EventTypeWarning,
	}
	for reason, want := range cases {
		if got := eventType(reason); got != want {
			t.Errorf("eventType(%s) = %s, want %s", reason, got, want)
		}
	}
}

func TestUnreadableDataKeepsTheCAWhenOnlyTheServingCertificateIsAtFault(t *testing.T) {
	s := testSettings()
	b := made(t, nil, certs.ActionCreate, s, time.Now())
	other := made(t, nil, certs.ActionCreate, s, time.Now())
	cases := map[string]struct {
		data       map[string][]byte
		keepsCA    bool
		wantFaulty string // the data key the problem names; "" for none
	}{
		"sound data": {data: b.SecretData(), keepsCA: true},
		"a serving key of another certificate": {
			data: with(b.SecretData(), certs.SecretKeyTLSKey, other.SecretData()[certs.SecretKeyTLSKey]), keepsCA: true, wantFaulty: certs.SecretKeyTLSKey,
		},
		"a serving certificate of another CA": {
			data: with(b.SecretData(), certs.SecretKeyTLSCert, other.SecretData()[certs.SecretKeyTLSCert]), keepsCA: true, wantFaulty: certs.SecretKeyTLSCert,
		},
		"a CA key of another CA": {
			data: with(b.SecretData(), certs.SecretKeyCAKey, other.SecretData()[certs.SecretKeyCAKey]), wantFaulty: certs.SecretKeyCAKey,
		},
		"no ca.crt at all": {
			data: without(b.SecretData(), certs.SecretKeyCACert), wantFaulty: certs.SecretKeyCACert,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, problem := parseSalvaging(tc.data)
			if kept := got != nil && got.CA().Equal(b.CA()); kept != tc.keepsCA {
				t.Errorf("the CA was kept: %v, want %v", kept, tc.keepsCA)
			}
			var pe *certs.ParseError
			switch {
			case tc.wantFaulty == "" && problem != nil:
				t.Errorf("a problem with sound data: %v", problem)
			case tc.wantFaulty != "" && (!errors.As(problem, &pe) || pe.Key != tc.wantFaulty):
				t.Errorf("problem = %v, want one with %s", problem, tc.wantFaulty)
			}
		})
	}
}
