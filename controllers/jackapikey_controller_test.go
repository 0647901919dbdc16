package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/apikey"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

const apiKeyWait = 20 * time.Second

// The JackAPIKey controller as it runs in the operator (the suite's
// manager, real clock): create, rotate with a short overlap, disable,
// enable, expire and delete, each seen in the Secret and the status.
func TestAPIKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	createAPIKey(t, liveNS, "lifecycle", authv1alpha1.JackAPIKeySpec{Role: jack.RoleManager, RotationOverlap: &metav1.Duration{Duration: 2 * time.Second}})

	// Create: a valid key in the Secret, its digest and last4 in the status.
	var first string
	poll.Until(t, apiKeyWait, "the new key to be ready", func() error {
		if k := getAPIKey(t, liveNS, "lifecycle"); apiKeyReady(k) != "True/"+authv1alpha1.ReasonAPIKeyReady {
			return fmt.Errorf("Ready is %q", apiKeyReady(k))
		}
		return nil
	})
	first = checkCurrent(t, liveNS, "lifecycle")
	k := getAPIKey(t, liveNS, "lifecycle")
	if !regexp.MustCompile(`^ak-[0-9a-f]{12}$`).MatchString(k.Status.ID) || k.Status.ID != APIKeyID(k.UID) {
		t.Errorf("status.id = %q, want ak- and 12 hex digits derived from the UID", k.Status.ID)
	}
	if k.Status.SecretName != "lifecycle-apikey" || len(k.Status.Values) != 1 || k.Status.ObservedGeneration != k.Generation {
		t.Errorf("status: secretName %q, values %v, observedGeneration %d (generation %d)", k.Status.SecretName, valueStates(k), k.Status.ObservedGeneration, k.Generation)
	}
	id := k.Status.ID
	secret := getObject(t, liveNS, "lifecycle-apikey", &corev1.Secret{})
	if !metav1.IsControlledBy(secret, k) || secret.Labels[jack.LabelManagedBy] != jack.ManagedByValue {
		t.Errorf("the Secret's owner references %v and labels %v: want a controller reference to the key and the managed-by label", secret.OwnerReferences, secret.Labels)
	}

	// Rotate: a new value in the Secret, both in the status; after the 2 s
	// overlap only the new one.
	updateObject(t, getAPIKey(t, liveNS, "lifecycle"), func(k *authv1alpha1.JackAPIKey) {
		k.Annotations = map[string]string{jack.AnnotationRotate: "first"}
	})
	poll.Until(t, apiKeyWait, "the rotation", func() error {
		if k := getAPIKey(t, liveNS, "lifecycle"); k.Status.LastRotateRequest != "first" || len(k.Status.Values) != 2 {
			return fmt.Errorf("lastRotateRequest %q, values %v", k.Status.LastRotateRequest, valueStates(k))
		}
		return nil
	})
	rotatedAt := time.Now()
	second := checkCurrent(t, liveNS, "lifecycle")
	k = getAPIKey(t, liveNS, "lifecycle")
	if second == first || k.Status.Values[1].State != authv1alpha1.APIKeyPrevious || k.Status.Values[1].Digest != apikey.Digest(first) || k.Status.Values[1].ValidUntil == nil {
		t.Fatalf("after the rotation: values %v; want the new value current and the first previous, with validUntil", valueStates(k))
	}
	if k.Status.ID != id {
		t.Errorf("status.id changed with the rotation: %s, then %s", id, k.Status.ID)
	}
	poll.Until(t, apiKeyWait, "the previous value to be dropped after the overlap", func() error {
		if k := getAPIKey(t, liveNS, "lifecycle"); len(k.Status.Values) != 1 {
			return fmt.Errorf("values %v", valueStates(k))
		}
		return nil
	})
	if took := time.Since(rotatedAt); took < time.Second {
		t.Errorf("the previous value was dropped %s after the rotation, before its 2 s overlap", took)
	}
	if v := checkCurrent(t, liveNS, "lifecycle"); v != second {
		t.Error("dropping the previous value changed the Secret")
	}

	// Disable: not ready, values kept; enable: ready again with the same value.
	updateObject(t, getAPIKey(t, liveNS, "lifecycle"), func(k *authv1alpha1.JackAPIKey) { k.Spec.Disabled = true })
	waitReady(t, "lifecycle", "False/"+authv1alpha1.ReasonAPIKeyDisabled)
	if v := checkCurrent(t, liveNS, "lifecycle"); v != second {
		t.Error("disabling changed the Secret's value")
	}
	updateObject(t, getAPIKey(t, liveNS, "lifecycle"), func(k *authv1alpha1.JackAPIKey) { k.Spec.Disabled = false })
	waitReady(t, "lifecycle", "True/"+authv1alpha1.ReasonAPIKeyReady)
	if v := checkCurrent(t, liveNS, "lifecycle"); v != second {
		t.Error("enabling changed the Secret's value")
	}

	// Expire: three seconds ahead, not ready from then on.
	expires := metav1.NewTime(time.Now().Add(3 * time.Second).Truncate(time.Second))
	updateObject(t, getAPIKey(t, liveNS, "lifecycle"), func(k *authv1alpha1.JackAPIKey) { k.Spec.Expires = &expires })
	poll.Until(t, apiKeyWait, "status.expires", func() error {
		if k := getAPIKey(t, liveNS, "lifecycle"); k.Status.Expires == nil || !k.Status.Expires.Equal(&expires) || apiKeyReady(k) != "True/"+authv1alpha1.ReasonAPIKeyReady {
			return fmt.Errorf("status.expires %v, Ready %s", k.Status.Expires, apiKeyReady(k))
		}
		return nil
	})
	waitReady(t, "lifecycle", "False/"+authv1alpha1.ReasonAPIKeyExpired)
	if late := time.Since(expires.Time); late < 0 || late > 3*time.Second {
		t.Errorf("the key was reported expired %s after spec.expires", late)
	}
	waitEvents(t, "lifecycle", authv1alpha1.ReasonKeyGenerated, authv1alpha1.ReasonKeyRotated, authv1alpha1.ReasonPreviousValueDropped,
		authv1alpha1.ReasonAPIKeyDisabled, authv1alpha1.ReasonAPIKeyReady, authv1alpha1.ReasonAPIKeyExpired)

	// Delete: the Secret is owned by the key, so the garbage collector removes
	// it (envtest runs none: the controller reference is what it follows).
	if err := k8s.Delete(ctx, getAPIKey(t, liveNS, "lifecycle")); err != nil {
		t.Fatal(err)
	}
	secret = getObject(t, liveNS, "lifecycle-apikey", &corev1.Secret{})
	if ref := metav1.GetControllerOf(secret); ref == nil || ref.Kind != "JackAPIKey" || ref.UID != k.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("the Secret's controller reference is %+v; want the deleted JackAPIKey, blocking its deletion", ref)
	}
}

func waitReady(t *testing.T, name, want string) {
	t.Helper()
	poll.Until(t, apiKeyWait, name+" Ready "+want, func() error {
		if got := apiKeyReady(getAPIKey(t, liveNS, name)); got != want {
			return fmt.Errorf("Ready is %q", got)
		}
		return nil
	})
}

// waitEvents waits until the key has an event of each reason.
func waitEvents(t *testing.T, name string, reasons ...string) {
	t.Helper()
	poll.Until(t, apiKeyWait, "events "+strings.Join(reasons, ", ")+" of "+name, func() error {
		var evs eventsv1.EventList
		if err := k8s.List(context.Background(), &evs, client.InNamespace(liveNS)); err != nil {
			return err
		}
		var seen []string
		for _, e := range evs.Items {
			if e.Regarding.Kind == "JackAPIKey" && e.Regarding.Name == name {
				seen = append(seen, e.Reason)
			}
		}
		for _, r := range reasons {
			if !slices.Contains(seen, r) {
				return fmt.Errorf("no %s event among %v", r, seen)
			}
		}
		return nil
	})
}

// A value the operator generated appears in its one Secret and nowhere
// else: not in any object of the namespace of a kind the operator writes or
// reads (every JackAPIKey, every other Secret, ConfigMaps, Events,
// TokenRevocations, the sidecars' Role and RoleBinding), nor in anything
// the operator logged, at any verbosity.
func TestAPIKeyValuesLeakNowhere(t *testing.T) {
	createAPIKey(t, liveNS, "leak", authv1alpha1.JackAPIKeySpec{Role: jack.RoleAdmin, DisplayName: "leak test", Owner: "team@example.com"})
	waitReady(t, "leak", "True/"+authv1alpha1.ReasonAPIKeyReady)
	first := checkCurrent(t, liveNS, "leak")
	updateObject(t, getAPIKey(t, liveNS, "leak"), func(k *authv1alpha1.JackAPIKey) {
		k.Annotations = map[string]string{jack.AnnotationRotate: "leak-1"}
	})
	poll.Until(t, apiKeyWait, "the rotation", func() error {
		if k := getAPIKey(t, liveNS, "leak"); k.Status.LastRotateRequest != "leak-1" {
			return fmt.Errorf("lastRotateRequest %q", k.Status.LastRotateRequest)
		}
		return nil
	})
	second := checkCurrent(t, liveNS, "leak")
	updateObject(t, getAPIKey(t, liveNS, "leak"), func(k *authv1alpha1.JackAPIKey) { k.Spec.Disabled = true })
	waitReady(t, "leak", "False/"+authv1alpha1.ReasonAPIKeyDisabled)
	waitEvents(t, "leak", authv1alpha1.ReasonKeyGenerated, authv1alpha1.ReasonKeyRotated, authv1alpha1.ReasonAPIKeyDisabled)

	values := map[string]string{"the first value": first, "the rotated value": second}
	// The random part alone, in case something printed it without the prefix.
	for what, v := range map[string]string{"the first value": first, "the rotated value": second} {
		values[what+"'s random part"] = v[len(apikey.Prefix) : len(apikey.Prefix)+24]
	}
	ctx := context.Background()
	lists := map[string]client.ObjectList{
		"JackAPIKeys": &authv1alpha1.JackAPIKeyList{}, "Secrets": &corev1.SecretList{}, "ConfigMaps": &corev1.ConfigMapList{},
		"Events": &eventsv1.EventList{}, "core Events": &corev1.EventList{}, "TokenRevocations": &authv1alpha1.TokenRevocationList{},
		"JackUsers": &authv1alpha1.JackUserList{}, "SigningKeys": &authv1alpha1.SigningKeyList{},
		"Roles": &rbacv1.RoleList{}, "RoleBindings": &rbacv1.RoleBindingList{}, "Pods": &corev1.PodList{},
	}
	checked := 0
	for kind, list := range lists {
		if err := k8s.List(ctx, list, client.InNamespace(liveNS)); err != nil {
			t.Fatalf("listing %s: %v", kind, err)
		}
		items, err := metaItems(list)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range items {
			if kind == "Secrets" && o.GetName() == "leak-apikey" {
				continue
			}
			raw, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for what, v := range values {
				if strings.Contains(string(raw), v) {
					t.Errorf("%s appears in %s %s", what, kind, o.GetName())
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d objects were checked", checked)
	}
	logs := operatorLogs.String()
	if !strings.Contains(logs, "API key reconciled") {
		t.Fatal("the captured logs hold none of the JackAPIKey controller's lines: the check below would prove nothing")
	}
	for what, v := range values {
		if strings.Contains(logs, v) {
			t.Errorf("%s appears in the operator's logs", what)
		}
	}
	// The one Secret holds the current value, and only it.
	s := getObject(t, liveNS, "leak-apikey", &corev1.Secret{})
	if string(s.Data[jack.SecretKeyAPIKey]) != second || len(s.Data) != 1 {
		t.Errorf("the key's Secret holds %d entries, want the current value alone", len(s.Data))
	}
}

// metaItems is a list's items as client objects.
func metaItems(list client.ObjectList) ([]client.Object, error) {
	raw, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	var generic struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		return nil, err
	}
	var out []client.Object
	for _, item := range generic.Items {
		var o metav1.PartialObjectMetadata
		if err := json.Unmarshal(item, &o); err != nil {
			return nil, err
		}
		out = append(out, &rawObject{PartialObjectMetadata: o, raw: item})
	}
	return out, nil
}

// rawObject is an object's metadata with its whole JSON, which is what
// json.Marshal gives back.
type rawObject struct {
	metav1.PartialObjectMetadata
	raw json.RawMessage
}

func (o *rawObject) MarshalJSON() ([]byte, error) { return o.raw, nil }

// Crash safety, driven by hand: each point at which a reconcile can stop
// between writing the Secret and writing the status is left as the crash
// would leave it, and the next reconcile finishes the job.
func TestAPIKeyReconcileFinishesWhatACrashInterrupted(t *testing.T) {
	h := newKeyHarness(t)
	ctx := context.Background()

	t.Run("a Secret created before the status said so is adopted, not replaced", func(t *testing.T) {
		key := createAPIKey(t, h.ns, "born", authv1alpha1.JackAPIKeySpec{})
		value, _ := apikey.Generate()
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "born-apikey", Namespace: h.ns,
			Labels: map[string]string{jack.LabelManagedBy: jack.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: authv1alpha1.GroupVersion.String(), Kind: "JackAPIKey", Name: key.Name, UID: key.UID,
				Controller: ptrTo(true)}}},
			Data: map[string][]byte{jack.SecretKeyAPIKey: []byte(value)}}
		if err := k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		h.reconcile("born")
		if got := checkCurrent(t, h.ns, "born"); got != value {
			t.Error("the reconcile replaced the value the interrupted one had written")
		}
		if r := apiKeyReady(getAPIKey(t, h.ns, "born")); r != "True/"+authv1alpha1.ReasonAPIKeyReady {
			t.Errorf("Ready %s", r)
		}
	})

	t.Run("a rotation whose value was written but not the status is finished once", func(t *testing.T) {
		createAPIKey(t, h.ns, "turn", authv1alpha1.JackAPIKeySpec{RotationOverlap: &metav1.Duration{Duration: time.Hour}})
		h.reconcile("turn")
		old := checkCurrent(t, h.ns, "turn")
		h.events.take()
		// What the crashed reconcile left: the rotate request, and its new
		// value in the Secret; the status still names the old value only.
		updateObject(t, getAPIKey(t, h.ns, "turn"), func(k *authv1alpha1.JackAPIKey) { k.Annotations = map[string]string{jack.AnnotationRotate: "r1"} })
		written, _ := apikey.Generate()
		updateObject(t, getObject(t, h.ns, "turn-apikey", &corev1.Secret{}), func(s *corev1.Secret) { s.Data[jack.SecretKeyAPIKey] = []byte(written) })

		h.clock.Step(time.Minute)
		res := h.reconcile("turn")
		if got := checkCurrent(t, h.ns, "turn"); got != written {
			t.Fatal("the reconcile rotated again instead of finishing the interrupted rotation")
		}
		k := getAPIKey(t, h.ns, "turn")
		if k.Status.LastRotateRequest != "r1" || len(k.Status.Values) != 2 || k.Status.Values[1].Digest != apikey.Digest(old) ||
			!k.Status.Values[1].ValidUntil.Time.Equal(h.clock.Now().Add(time.Hour)) {
			t.Fatalf("status after the finished rotation: lastRotateRequest %q, values %v", k.Status.LastRotateRequest, valueStates(k))
		}
		if res.RequeueAfter != time.Hour {
			t.Errorf("requeue after %s, want at the overlap's end (1h)", res.RequeueAfter)
		}
		if got := reasonsOf(h.events.take()); !slices.Equal(got, []string{authv1alpha1.ReasonKeyRotated}) {
			t.Errorf("events %v, want one KeyRotated", got)
		}
		h.reconcile("turn")
		if got := checkCurrent(t, h.ns, "turn"); got != written || len(h.events.take()) != 0 {
			t.Error("a later reconcile changed the value or reported more")
		}
		// The overlap ends: the old value is dropped; the Secret is untouched.
		h.clock.Step(time.Hour)
		h.reconcile("turn")
		if k := getAPIKey(t, h.ns, "turn"); len(k.Status.Values) != 1 || checkCurrent(t, h.ns, "turn") != written {
			t.Errorf("after the overlap: values %v", valueStates(k))
		}
		if got := reasonsOf(h.events.take()); !slices.Equal(got, []string{authv1alpha1.ReasonPreviousValueDropped}) {
			t.Errorf("events %v, want PreviousValueDropped", got)
		}
	})

	t.Run("a deleted Secret is recreated with a new value, the lost one working for the overlap", func(t *testing.T) {
		createAPIKey(t, h.ns, "lost", authv1alpha1.JackAPIKeySpec{RotationOverlap: &metav1.Duration{Duration: 10 * time.Minute}})
		h.reconcile("lost")
		old := checkCurrent(t, h.ns, "lost")
		h.events.take()
		if err := k8s.Delete(ctx, getObject(t, h.ns, "lost-apikey", &corev1.Secret{})); err != nil {
			t.Fatal(err)
		}
		h.reconcile("lost")
		now := checkCurrent(t, h.ns, "lost")
		k := getAPIKey(t, h.ns, "lost")
		if now == old || len(k.Status.Values) != 2 || k.Status.Values[1].Digest != apikey.Digest(old) ||
			!k.Status.Values[1].ValidUntil.Time.Equal(h.clock.Now().Add(10*time.Minute)) {
			t.Fatalf("after recreating the Secret: values %v", valueStates(k))
		}
		if ev := h.events.take(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning "+authv1alpha1.ReasonKeyReplaced) {
			t.Errorf("events %v, want a KeyReplaced warning", ev)
		}
	})

	t.Run("a Secret of that name that is not the key's is never touched", func(t *testing.T) {
		other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "taken-apikey", Namespace: h.ns}, Data: map[string][]byte{"x": []byte("theirs")}}
		if err := k8s.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		createAPIKey(t, h.ns, "taken", authv1alpha1.JackAPIKeySpec{})
		h.reconcile("taken")
		s := getObject(t, h.ns, "taken-apikey", &corev1.Secret{})
		if string(s.Data["x"]) != "theirs" || len(s.Data) != 1 {
			t.Error("the reconcile wrote to a Secret that is not the key's")
		}
		k := getAPIKey(t, h.ns, "taken")
		if apiKeyReady(k) != "False/"+authv1alpha1.ReasonSecretConflict || len(k.Status.Values) != 0 {
			t.Errorf("Ready %s, values %v", apiKeyReady(k), valueStates(k))
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

// Last use: the sidecars' reports reach status.lastUsed, to the hour, at
// most once per interval per namespace, and only forward.
func TestAPIKeyLastUsedComesFromTheSidecars(t *testing.T) {
	h := newKeyHarness(t)
	h.r.LastUsedInterval = time.Hour
	a, b := newUsesSidecar(t), newUsesSidecar(t)
	(&harness{t: t, ns: h.ns}).injectedPod("a", a.port(t), true)
	(&harness{t: t, ns: h.ns}).injectedPod("b", b.port(t), true)
	createAPIKey(t, h.ns, "used", authv1alpha1.JackAPIKeySpec{})
	h.reconcile("used")
	id := getAPIKey(t, h.ns, "used").Status.ID
	if getAPIKey(t, h.ns, "used").Status.LastUsed != nil {
		t.Fatal("a new key has a last use")
	}

	h.clock.Step(time.Minute)
	a.used(id, h.clock.Now().Add(-2*time.Hour))
	b.used(id, h.clock.Now())
	res := h.reconcile("used")
	want := h.clock.Now().UTC().Truncate(time.Hour)
	if lu := getAPIKey(t, h.ns, "used").Status.LastUsed; lu == nil || !lu.Time.Equal(want) {
		t.Fatalf("status.lastUsed = %v, want the latest hour reported, %s", lu, want)
	}
	if res.RequeueAfter != time.Hour {
		t.Errorf("requeue after %s, want the last-used interval", res.RequeueAfter)
	}
	reads := a.readCount()

	// Within the interval the sidecars are not asked again.
	b.used(id, h.clock.Now().Add(time.Hour))
	h.clock.Step(10 * time.Minute)
	h.reconcile("used")
	if a.readCount() != reads {
		t.Error("the sidecars were asked again within the interval")
	}
	// After it, they are; an older report does not move lastUsed back.
	rv := getAPIKey(t, h.ns, "used").ResourceVersion
	b.used(id, h.clock.Now().Add(-3*time.Hour))
	h.clock.Step(time.Hour)
	h.reconcile("used")
	k := getAPIKey(t, h.ns, "used")
	if lu := k.Status.LastUsed; lu == nil || !lu.Time.Equal(want) || k.ResourceVersion != rv {
		t.Errorf("status.lastUsed = %v (resourceVersion %s, was %s); want it unchanged, and no write", lu, k.ResourceVersion, rv)
	}
	b.used(id, h.clock.Now())
	h.clock.Step(time.Hour)
	h.reconcile("used")
	if lu := getAPIKey(t, h.ns, "used").Status.LastUsed; lu == nil || !lu.Time.After(want) {
		t.Errorf("status.lastUsed = %v, want it moved forward past %s", lu, want)
	}
}
