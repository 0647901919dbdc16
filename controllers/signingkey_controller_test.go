package controllers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/rotation"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/testsupport/hookclient"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

func TestANewSigningKeyIsReadyWithItsSecretWithinTwoSeconds(t *testing.T) {
	ctx := context.Background()
	key := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "quick", Namespace: liveNS}}
	start := time.Now()
	if err := k8s.Create(ctx, key); err != nil {
		t.Fatal(err)
	}
	t.Logf("create took %v", time.Since(start))
	var ready time.Duration
	for time.Since(start) < 10*time.Second {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(key), key); err != nil {
			t.Fatal(err)
		}
		var secret corev1.Secret
		if cond := findReady(key); cond != nil && cond.Status == metav1.ConditionTrue &&
			k8s.Get(ctx, client.ObjectKey{Namespace: liveNS, Name: "quick-jwt"}, &secret) == nil {
			ready = time.Since(start)
			if len(secret.Data[jack.SecretKeyJWTSecret]) != 32 {
				t.Errorf("JWT_SECRET holds %d bytes, want a 256-bit HS256 key", len(secret.Data[jack.SecretKeyJWTSecret]))
			}
			if !metav1.IsControlledBy(&secret, key) {
				t.Errorf("the Secret is not owned by the SigningKey, so deleting the SigningKey would leave it behind")
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ready == 0 || ready > 2*time.Second {
		t.Fatalf("the SigningKey was not Ready with its Secret within 2s (took %v; status %+v)", ready, key.Status)
	}
	t.Logf("Ready with a Secret %v after creation", ready.Round(time.Millisecond))
	if key.Status.NextRotationTime == nil || key.Status.ObservedGeneration != key.Generation {
		t.Errorf("status lacks the next rotation or the observed generation: %+v", key.Status)
	}
	var jwks corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: liveNS, Name: key.JWKSConfigMapName()}, &jwks); err != nil || !metav1.IsControlledBy(&jwks, key) {
		t.Errorf("the JWKS ConfigMap is missing or not owned (err %v)", err)
	}
}

func findReady(key *authv1alpha1.SigningKey) *metav1.Condition {
	for i := range key.Status.Conditions {
		if key.Status.Conditions[i].Type == authv1alpha1.ConditionReady {
			return &key.Status.Conditions[i]
		}
	}
	return nil
}

func TestManualRotationThroughTheManager(t *testing.T) {
	ctx := context.Background()
	key := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: liveNS}}
	if err := k8s.Create(ctx, key); err != nil {
		t.Fatal(err)
	}
	var first string
	poll.True(t, 10*time.Second, "the SigningKey has an active key", func() bool {
		first = getKey(t, key).Status.ActiveKeyID
		return first != ""
	})
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"auth.jack.io/rotate":"2026-11-27"}}}`))
	if err := k8s.Patch(ctx, key, patch); err != nil {
		t.Fatal(err)
	}
	poll.True(t, 10*time.Second, "the requested key is published", func() bool {
		k := getKey(t, key)
		if k.Status.LastRotateRequest != "2026-11-27" || len(k.Status.Keys) != 2 {
			return false
		}
		for _, ks := range k.Status.Keys {
			if ks.ID != first && ks.State == jack.KeyPublished {
				return true
			}
		}
		return false
	})
	if k := getKey(t, key); k.Status.ActiveKeyID != first {
		t.Errorf("the new key signs at once (active %s, was %s); it must wait out prepublish", k.Status.ActiveKeyID, first)
	}
}

func getKey(t *testing.T, key *authv1alpha1.SigningKey) *authv1alpha1.SigningKey {
	t.Helper()
	return getObject(t, key.Namespace, key.Name, &authv1alpha1.SigningKey{})
}

type liveToken struct {
	kid string
	exp time.Time
}

// TestAMonthOfRotationsKeepsEveryKeyALiveTokenNeeds runs 40 simulated days
// against the real API server: scheduled rotations, two manual ones (and a
// repeated annotation), an algorithm change, a tokenTTL change and a
// revocation. Every simulated hour a token is "issued" with the active key;
// after each reconcile, the Secret pods mount must hold every key a live
// token may carry, agree with its backup, JWT_SECRET and the status.
func TestAMonthOfRotationsKeepsEveryKeyALiveTokenNeeds(t *testing.T) {
	h := newHarness(t)
	h.create("jack", authv1alpha1.SigningKeySpec{
		Rotation: authv1alpha1.RotationPolicy{Interval: metav1.Duration{Duration: 240 * time.Hour}},
	})
	h.reconcile("jack")
	h.events.take() // the first key's
	var live []liveToken
	rotated := 0
	for hour := 1; hour <= 40*24; hour++ {
		h.clock.SetTime(epoch.Add(time.Duration(hour) * time.Hour))
		now := h.clock.Now()
		switch hour {
		case 100, 101, 300:
			value := map[int]string{100: "first", 101: "first", 300: "second"}[hour]
			h.update("jack", func(k *authv1alpha1.SigningKey) {
				metav1.SetMetaDataAnnotation(&k.ObjectMeta, jack.AnnotationRotate, value)
			})
		case 400:
			h.update("jack", func(k *authv1alpha1.SigningKey) { k.Spec.TokenTTL = metav1.Duration{Duration: 48 * time.Hour} })
		case 500:
			h.update("jack", func(k *authv1alpha1.SigningKey) { k.Spec.Algorithm = jack.AlgorithmES256 })
		case 700:
			victim := h.get("jack").Status.ActiveKeyID
			h.update("jack", func(k *authv1alpha1.SigningKey) { k.Spec.RevokedKeyIDs = []string{victim} })
			// Its tokens die with it, on purpose.
			live = slices.DeleteFunc(live, func(tk liveToken) bool { return tk.kid == victim })
		}
		if hour%2 == 1 && !slices.Contains([]int{101, 301, 501}, hour) {
			continue // reconcile every other hour, and right after each change
		}
		res := h.reconcile("jack")
		if res.RequeueAfter <= 0 {
			t.Fatalf("hour %d: no requeue was asked for", hour)
		}
		for _, e := range h.events.take() {
			if strings.HasPrefix(e, "Normal Rotated") {
				rotated++
			}
		}
		ring := h.ring("jack")
		live = slices.DeleteFunc(live, func(tk liveToken) bool { return !now.Before(tk.exp) })
		for _, tk := range live {
			if k := ring.Find(tk.kid); k == nil || !k.Verifies(now) {
				t.Fatalf("hour %d: a live token signed by %s (exp %s) would be refused: the ring lost its key", hour, tk.kid, tk.exp)
			}
		}
		ttl := h.get("jack").Spec.TokenTTL.Duration
		live = append(live, liveToken{kid: ring.Active().ID, exp: now.Add(ttl)})
	}
	if ring := h.ring("jack"); ring.Active().Algorithm != jack.AlgorithmES256 {
		t.Errorf("after the algorithm change the active key is %s", ring.Active().Algorithm)
	}
	if rotated != 5 {
		t.Errorf("%d rotations in 40 days, want 5 (two manual, the algorithm, the revocation, one scheduled)", rotated)
	}
}

var errCrash = errors.New("simulated crash")

// crashAt returns a client whose n-th write, and every later one, fails as
// if the operator had crashed there.
func crashAt(n int) client.Client {
	writes := 0
	return &hookclient.Client{Client: k8s, BeforeWrite: func(client.Object) error {
		writes++
		if writes >= n {
			return errCrash
		}
		return nil
	}}
}

// TestACrashBetweenAnyTwoWritesEndsInACorrectRing interrupts a reconcile at
// every write in turn (creating the ring, then publishing a new key and
// retiring an old one) and checks that the next reconcile finishes the job
// with no key lost or duplicated.
func TestACrashBetweenAnyTwoWritesEndsInACorrectRing(t *testing.T) {
	for failAt := 1; failAt <= 5; failAt++ {
		t.Run("creating the ring, crash at write "+string(rune('0'+failAt)), func(t *testing.T) {
			h := newHarness(t)
			h.create("jack", authv1alpha1.SigningKeySpec{Algorithm: jack.AlgorithmES256})
			_, err := h.reconcileWith(crashAt(failAt), "jack")
			crashed := errors.Is(err, errCrash)
			var committed *keyring.Ring
			if backup, ok := h.secret("jack-jwt-backup"); ok {
				committed, _ = keyring.Parse(backup.Data[jack.SecretKeyKeyRing])
			}
			h.reconcile("jack")
			ring := h.ring("jack")
			if len(ring.Keys) != 1 {
				t.Fatalf("after the crash (%v) the ring holds %d keys, want 1", crashed, len(ring.Keys))
			}
			if committed != nil && ring.Active().ID != committed.Active().ID {
				t.Fatalf("the key committed before the crash (%s) was replaced by %s", committed.Active().ID, ring.Active().ID)
			}
		})
		t.Run("rotating, crash at write "+string(rune('0'+failAt)), func(t *testing.T) {
			h := newHarness(t)
			h.create("jack", authv1alpha1.SigningKeySpec{})
			h.reconcile("jack")
			// A manual rotation: publish a key, then let it take over.
			h.update("jack", func(k *authv1alpha1.SigningKey) {
				metav1.SetMetaDataAnnotation(&k.ObjectMeta, jack.AnnotationRotate, "one")
			})
			h.reconcile("jack")
			before := h.ring("jack")
			h.clock.Step(5 * time.Minute)
			_, _ = h.reconcileWith(crashAt(failAt), "jack")
			h.reconcile("jack")
			h.reconcile("jack") // and nothing more happens
			after := h.ring("jack")
			old, next := before.Active(), before.Find(h.get("jack").Status.ActiveKeyID)
			if len(after.Keys) != 2 || next == nil || next.ID == old.ID || next.State != jack.KeyPublished {
				t.Fatalf("after the crash the ring holds %s; the published key should have taken over", ringStates(after))
			}
			if k := after.Find(old.ID); k == nil || k.State != jack.KeyRetired {
				t.Fatalf("after the crash the old key %s is not retired: %s", old.ID, ringStates(after))
			}
			if !after.Active().SameMaterial(next) {
				t.Fatal("the published key's material changed when it became active")
			}
		})
	}
}

func ringStates(r *keyring.Ring) string {
	var s []string
	for _, k := range r.Keys {
		s = append(s, string(k.State))
	}
	return strings.Join(s, ",")
}

func TestAnEditedOrDeletedSecretIsRepairedWithEveryKey(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.create("jack", authv1alpha1.SigningKeySpec{})
	h.reconcile("jack")
	h.update("jack", func(k *authv1alpha1.SigningKey) {
		metav1.SetMetaDataAnnotation(&k.ObjectMeta, jack.AnnotationRotate, "x")
	})
	h.reconcile("jack")
	want, _ := h.ring("jack").Marshal()
	h.events.take()

	cases := map[string]func(){
		"JWT_SECRET overwritten by hand": func() {
			s, _ := h.secret("jack-jwt")
			s.Data[jack.SecretKeyJWTSecret] = []byte("hunter2")
			if err := k8s.Update(ctx, s); err != nil {
				t.Fatal(err)
			}
		},
		"the ring replaced with garbage": func() {
			s, _ := h.secret("jack-jwt")
			s.Data[jack.SecretKeyKeyRing] = []byte("{not json")
			if err := k8s.Update(ctx, s); err != nil {
				t.Fatal(err)
			}
		},
		"the Secret deleted": func() {
			s, _ := h.secret("jack-jwt")
			if err := k8s.Delete(ctx, s); err != nil {
				t.Fatal(err)
			}
		},
		"the backup deleted": func() {
			s, _ := h.secret("jack-jwt-backup")
			if err := k8s.Delete(ctx, s); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			damage()
			h.reconcile("jack")
			got, _ := h.ring("jack").Marshal()
			if !bytes.Equal(got, want) {
				t.Fatalf("after repair the ring differs from before the damage")
			}
			events := h.events.take()
			if name != "the backup deleted" && !slices.Contains(reasonsOf(events), authv1alpha1.ReasonSecretRepaired) {
				t.Errorf("no SecretRepaired event; events: %q", events)
			}
		})
	}
}

func TestASecretThatIsNotTheOperatorsIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: h.ns}, StringData: map[string]string{"JWT_SECRET": "theirs"}}
	if err := k8s.Create(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	h.create("jack", authv1alpha1.SigningKeySpec{SecretName: "taken"})
	h.reconcile("jack")
	status, reason, message := h.readyCondition("jack")
	if status != "False" || reason != authv1alpha1.ReasonSecretConflict || !strings.Contains(message, "Secret taken already exists") {
		t.Errorf("Ready = %s/%s %q, want False/SecretConflict naming the Secret", status, reason, message)
	}
	s, _ := h.secret("taken")
	if string(s.Data["JWT_SECRET"]) != "theirs" || len(s.Data) != 1 {
		t.Errorf("the operator changed a Secret it does not own: %v keys", len(s.Data))
	}
}

func TestALegacySecretKeepsOldTokensWorkingUntilTheyExpire(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.create("jack", authv1alpha1.SigningKeySpec{LegacySecretRef: &authv1alpha1.LegacySecretReference{Name: "jack-env"}})
	h.reconcile("jack")
	status, reason, _ := h.readyCondition("jack")
	if status != "False" || reason != authv1alpha1.ReasonLegacySecretMissing {
		t.Errorf("with the legacy Secret missing Ready = %s/%s, want False/LegacySecretMissing", status, reason)
	}
	if ring := h.ring("jack"); len(ring.Keys) != 1 {
		t.Errorf("the ring must work without the legacy secret; it holds %d keys", len(ring.Keys))
	}

	legacy := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jack-env", Namespace: h.ns}, StringData: map[string]string{"JWT_SECRET": "jack-dev-secret-from-before"}}
	if err := k8s.Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(time.Minute)
	h.reconcile("jack")
	ring := h.ring("jack")
	var imported *keyring.Key
	for i := range ring.Keys {
		if ring.Keys[i].Legacy {
			imported = &ring.Keys[i]
		}
	}
	if imported == nil || imported.State != jack.KeyRetired {
		t.Fatalf("the legacy secret was not imported as a retired key: %s", ringStates(ring))
	}
	if got := imported.VerificationKey().([]byte); string(got) != "jack-dev-secret-from-before" {
		t.Error("the imported key does not hold the legacy secret")
	}
	if want := h.clock.Now().Add(24*time.Hour + rotation.Leeway); !imported.ExpiresAt.Equal(want.Truncate(time.Second)) {
		t.Errorf("the legacy key expires at %s, want %s", imported.ExpiresAt, want)
	}
	if status, _, _ := h.readyCondition("jack"); status != "True" {
		t.Errorf("with the legacy secret imported Ready = %s", status)
	}
	for _, k := range h.get("jack").Status.Keys {
		if k.Legacy && k.Fingerprint != "" {
			t.Errorf("the legacy key's fingerprint %q is in the status; a weak secret could be guessed from it", k.Fingerprint)
		}
	}
	// A day later it is gone, and stays gone.
	h.clock.Step(25 * time.Hour)
	h.reconcile("jack")
	h.reconcile("jack")
	if ring := h.ring("jack"); len(ring.Keys) != 1 {
		t.Errorf("a day later the ring holds %s, want only the active key", ringStates(ring))
	}
}

func TestAnAsymmetricRingPublishesItsPublicKeys(t *testing.T) {
	h := newHarness(t)
	h.create("jack", authv1alpha1.SigningKeySpec{Algorithm: jack.AlgorithmEdDSA})
	h.reconcile("jack")
	var cm corev1.ConfigMap
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "jack-jwt-jwks"}, &cm); err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(cm.Data[jack.ConfigMapKeyJWKS]), &set); err != nil {
		t.Fatal(err)
	}
	active := h.ring("jack").Active()
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != active.ID || set.Keys[0]["crv"] != "Ed25519" {
		t.Fatalf("JWKS = %s, want the active Ed25519 key", cm.Data[jack.ConfigMapKeyJWKS])
	}
	if _, private := set.Keys[0]["d"]; private {
		t.Fatal("the public JWKS carries the private key")
	}
}

// TestNoKeyMaterialInStatusEventsOrLogs rotates through every algorithm and
// searches the status, every event and every log line for any key's material.
func TestNoKeyMaterialInStatusEventsOrLogs(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	legacy := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: h.ns}, StringData: map[string]string{"JWT_SECRET": "old-secret-value"}}
	if err := k8s.Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	h.create("jack", authv1alpha1.SigningKeySpec{LegacySecretRef: &authv1alpha1.LegacySecretReference{Name: "old"}})
	var events []string
	secrets := map[string][]byte{"legacy": []byte("old-secret-value")}
	for _, alg := range []jack.Algorithm{"HS256", "HS512", "RS256", "ES256", "EdDSA"} {
		h.update("jack", func(k *authv1alpha1.SigningKey) { k.Spec.Algorithm = alg })
		h.reconcile("jack")
		h.clock.Step(5 * time.Minute)
		h.reconcile("jack")
		events = append(events, h.events.take()...)
		for _, k := range h.ring("jack").Keys {
			material, _ := k.JWTSecret()
			secrets[k.ID] = material
		}
	}
	status, _ := json.Marshal(h.get("jack").Status)
	haystacks := map[string]string{"status": string(status), "events": strings.Join(events, "\n"), "logs": h.logs.String()}
	if h.logs.Len() == 0 || len(events) == 0 {
		t.Fatal("nothing was logged or recorded; the test would prove nothing")
	}
	for where, text := range haystacks {
		for kid, material := range secrets {
			forms := []string{string(material), base64.StdEncoding.EncodeToString(material), base64.RawURLEncoding.EncodeToString(material)}
			if lines := strings.Split(string(material), "\n"); len(lines) > 2 {
				forms = append(forms, lines[1]) // a line of a PEM key's base64 body
			}
			for _, form := range forms {
				if len(form) >= 8 && strings.Contains(text, form) {
					t.Errorf("the %s contain the material of key %s", where, kid)
				}
			}
		}
	}
}
