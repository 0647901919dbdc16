package webhookcerts

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

func TestACABundleResetByAnotherToolIsRepairedAtOnce(t *testing.T) {
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "webhook-certs"}
	startReplica(t, "only", replicaOptions{secret: key, settings: testSettings()})
	poll.Until(t, 30*time.Second, "the Secret holds certificates", func() error { _, _, err := storedBundle(key); return err })
	_, b := mustStoredBundle(t, key)
	waitUntilAdmitting(t, ns)

	cases := map[string][]byte{
		"`kubectl apply` of a manifest with an old caBundle":   envtestCABundle,
		"a Helm upgrade of a chart that leaves caBundle empty": nil,
	}
	for name, reset := range cases {
		t.Run(name, func(t *testing.T) {
			labels := map[string]string{"kind": kindValidating, "name": validatingName}
			before := metricValue(t, MetricCABundleUpdates, labels)
			setCABundles(t, reset)
			start := time.Now()
			poll.Until(t, 10*time.Second, "every caBundle is the Secret's ca.crt again", func() error { return caBundlesAre(b.CABundle()) })
			t.Logf("repaired in %s", time.Since(start).Round(time.Millisecond))
			if metricValue(t, MetricCABundleUpdates, labels) <= before {
				t.Error("the repair was not counted")
			}
			waitUntilAdmitting(t, ns)
		})
	}
	if err := hasEvent(key, corev1.EventTypeNormal, ReasonCABundleUpdated, validatingName); err != nil {
		t.Error(err)
	}
	if _, after := mustStoredBundle(t, key); !after.CA().Equal(b.CA()) || !after.Serving().Equal(b.Serving()) {
		t.Error("repairing a caBundle changed the certificates")
	}
}

func TestACorruptedSecretIsRepairedAndNeverLogged(t *testing.T) {
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "webhook-certs"}
	r := startReplica(t, "only", replicaOptions{secret: key, settings: testSettings()})
	poll.Until(t, 30*time.Second, "the Secret holds certificates", func() error { _, _, err := storedBundle(key); return err })
	waitUntilAdmitting(t, ns)
	other := made(t, nil, certs.ActionCreate, testSettings(), time.Now()).SecretData()
	var keys [][]byte // every private key the test has seen
	keys = append(keys, other[certs.SecretKeyCAKey], other[certs.SecretKeyTLSKey])

	cases := []struct {
		name      string
		corrupt   func(map[string][]byte)
		faultyKey string
		// keepsCA: only the serving certificate is at fault, so the CA and
		// caBundle stay and no admission can fail.
		keepsCA bool
	}{
		{
			name:    "a serving key that is not the serving certificate's",
			corrupt: func(d map[string][]byte) { d[certs.SecretKeyTLSKey] = other[certs.SecretKeyTLSKey] },
			// certs checks the key against its certificate.
			faultyKey: certs.SecretKeyTLSKey, keepsCA: true,
		},
		{
			name:      "a CA key that is not the CA's",
			corrupt:   func(d map[string][]byte) { d[certs.SecretKeyCAKey] = other[certs.SecretKeyCAKey] },
			faultyKey: certs.SecretKeyCAKey,
		},
		{
			name:      "a ca.crt that is not PEM",
			corrupt:   func(d map[string][]byte) { d[certs.SecretKeyCACert] = []byte("not a certificate") },
			faultyKey: certs.SecretKeyCACert,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret, good := mustStoredBundle(t, key)
			keys = append(keys, secret.Data[certs.SecretKeyCAKey], secret.Data[certs.SecretKeyTLSKey])
			updates := metricValue(t, MetricCABundleUpdates, map[string]string{"kind": kindValidating, "name": validatingName})
			data := maps.Clone(secret.Data)
			tc.corrupt(data)
			secret.Data = data
			if err := k8s.Update(context.Background(), secret); err != nil {
				t.Fatal(err)
			}

			poll.Until(t, 10*time.Second, "the Warning event naming "+tc.faultyKey, func() error {
				return hasEvent(key, corev1.EventTypeWarning, ReasonSecretInvalid, tc.faultyKey+":")
			})
			var repaired *certs.Bundle
			poll.Until(t, 10*time.Second, "the Secret is repaired", func() error {
				var err error
				if _, repaired, err = storedBundle(key); err != nil {
					return err
				}
				if repaired.Serving().Equal(good.Serving()) {
					return errors.New("it still holds the serving certificate from before")
				}
				return nil
			})
			if got := repaired.CA().Equal(good.CA()); got != tc.keepsCA {
				t.Errorf("the CA was kept: %v, want %v", got, tc.keepsCA)
			}
			poll.Until(t, 10*time.Second, "every caBundle is the repaired ca.crt", func() error { return caBundlesAre(repaired.CABundle()) })
			if grew := metricValue(t, MetricCABundleUpdates, map[string]string{"kind": kindValidating, "name": validatingName}) > updates; grew == tc.keepsCA {
				t.Errorf("the caBundle was patched: %v; want that only when the CA changed", grew)
			}
			poll.Until(t, 10*time.Second, "the replica serves the repaired certificate", func() error { return servesTheSecret(r.port, key) })
			waitUntilAdmitting(t, ns)
			secret, _ = mustStoredBundle(t, key)
			keys = append(keys, secret.Data[certs.SecretKeyCAKey], secret.Data[certs.SecretKeyTLSKey])
		})
	}

	material := keyMaterial(t, keys...)
	assertNoKeyMaterial(t, "the operator's log", logs.String(), material)
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		assertNoKeyMaterial(t, fmt.Sprintf("event %s", e.Reason), e.Note, material)
	}
}

// keyMaterialWindow is how many characters of a key's encoding make a leak.
const keyMaterialWindow = 12

// keyMaterial is every keyMaterialWindow-long fragment of the private keys
// in the PEM given, in the encodings an error, a log line or an event could
// leak them in: the PEM's base64, and the private scalar in base64, hex and
// decimal. Lower-cased, as the search is.
func keyMaterial(t *testing.T, pems ...[]byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, p := range pems {
		for {
			block, rest := pem.Decode(p)
			if block == nil {
				break
			}
			p = rest
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatalf("test key does not parse: %v", err)
			}
			d := key.(*ecdsa.PrivateKey).D
			for _, w := range []string{base64.StdEncoding.EncodeToString(block.Bytes), base64.StdEncoding.EncodeToString(d.Bytes()),
				hex.EncodeToString(d.Bytes()), d.String()} {
				w = strings.ToLower(w)
				for i := 0; i+keyMaterialWindow <= len(w); i++ {
					out[w[i:i+keyMaterialWindow]] = true
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no private key in the test data")
	}
	return out
}

// assertNoKeyMaterial looks for any fragment of material in s.
func assertNoKeyMaterial(t *testing.T, what, s string, material map[string]bool) {
	t.Helper()
	s = strings.ToLower(s)
	for i := 0; i+keyMaterialWindow <= len(s); i++ {
		if material[s[i:i+keyMaterialWindow]] {
			from := max(i-40, 0)
			t.Fatalf("%s contains key material %q, in: ...%s...", what, s[i:i+keyMaterialWindow], s[from:min(i+keyMaterialWindow+40, len(s))])
		}
	}
}

// The Helm chart creates the Secret empty, so that uninstall removes it: the
// operator fills it without calling it invalid.
func TestAnEmptySecretFromTheChartIsFilledWithoutAWarning(t *testing.T) {
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "webhook-certs"}
	if err := k8s.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}},
		Type:       corev1.SecretTypeOpaque,
	}); err != nil {
		t.Fatal(err)
	}
	startReplica(t, "only", replicaOptions{secret: key, settings: testSettings()})
	poll.Until(t, 30*time.Second, "the Secret holds certificates", func() error { _, _, err := storedBundle(key); return err })
	waitUntilAdmitting(t, ns)
	evs, err := secretEvents(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Reason == ReasonSecretInvalid {
			t.Errorf("an empty Secret was reported invalid: %s", e.Note)
		}
	}
	var s corev1.Secret
	if err := k8s.Get(context.Background(), key, &s); err != nil || s.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		t.Errorf("the chart's labels were lost (err %v): %v", err, s.Labels)
	}
}
