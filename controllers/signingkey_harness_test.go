package controllers

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// recordedEvents keeps every event a reconciler reports, as
// "Type Reason message".
type recordedEvents struct {
	mu   sync.Mutex
	list []string
}

func (r *recordedEvents) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, eventtype+" "+reason+" "+fmt.Sprintf(note, args...))
}

func (r *recordedEvents) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.list
	r.list = nil
	return out
}

func reasonsOf(events []string) []string {
	var out []string
	for _, e := range events {
		out = append(out, strings.Fields(e)[1])
	}
	return out
}

// harness drives a SigningKeyReconciler by hand with a fake clock, against
// the real API server, capturing its events and logs.
type harness struct {
	t      *testing.T
	ns     string
	clock  *clocktesting.FakeClock
	events *recordedEvents
	logs   bytes.Buffer
	r      *SigningKeyReconciler
}

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, ns: newNamespace(t), clock: clocktesting.NewFakeClock(epoch), events: &recordedEvents{}}
	h.r = &SigningKeyReconciler{Client: k8s, Recorder: h.events, Clock: h.clock, Generate: keyring.Generate,
		reads: &sidecarStates{}, laggards: &laggardEvents{}}
	return h
}

func (h *harness) ctx() context.Context {
	log := funcr.New(func(prefix, args string) { h.logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 5})
	return logf.IntoContext(context.Background(), log)
}

// reconcile runs one reconcile with the given client (nil for the real one).
func (h *harness) reconcileWith(c client.Client, name string) (ctrl.Result, error) {
	r := *h.r
	if c != nil {
		r.Client = c
	}
	return r.Reconcile(h.ctx(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: h.ns, Name: name}})
}

func (h *harness) reconcile(name string) ctrl.Result {
	h.t.Helper()
	res, err := h.reconcileWith(nil, name)
	if err != nil {
		h.t.Fatalf("reconcile of %s at %s: %v", name, h.clock.Now().Format(time.RFC3339), err)
	}
	return res
}

func (h *harness) create(name string, spec authv1alpha1.SigningKeySpec) *authv1alpha1.SigningKey {
	h.t.Helper()
	key := &authv1alpha1.SigningKey{}
	key.Name, key.Namespace, key.Spec = name, h.ns, spec
	if err := k8s.Create(context.Background(), key); err != nil {
		h.t.Fatalf("creating SigningKey %s: %v", name, err)
	}
	return key
}

func (h *harness) get(name string) *authv1alpha1.SigningKey {
	h.t.Helper()
	return getObject(h.t, h.ns, name, &authv1alpha1.SigningKey{})
}

// update changes a SigningKey as a user would with kubectl.
func (h *harness) update(name string, change func(*authv1alpha1.SigningKey)) {
	h.t.Helper()
	updateObject(h.t, h.get(name), change)
}

func (h *harness) secret(name string) (*corev1.Secret, bool) {
	s := &corev1.Secret{}
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, s)
	return s, err == nil
}

// ring reads the ring pods would mount, and checks it against everything
// that must agree with it: the backup, JWT_SECRET and the status.
func (h *harness) ring(name string) *keyring.Ring {
	h.t.Helper()
	key := h.get(name)
	main, ok := h.secret(key.SecretName())
	if !ok {
		h.t.Fatalf("Secret %s does not exist", key.SecretName())
	}
	ring, err := keyring.Parse(main.Data[jack.SecretKeyKeyRing])
	if err != nil {
		h.t.Fatalf("Secret %s holds no readable ring: %v", key.SecretName(), err)
	}
	backup, ok := h.secret(key.BackupSecretName())
	if !ok || !bytes.Equal(backup.Data[jack.SecretKeyKeyRing], main.Data[jack.SecretKeyKeyRing]) {
		h.t.Fatalf("the backup Secret does not hold the same ring as %s", key.SecretName())
	}
	active := ring.Active()
	if active == nil {
		h.t.Fatalf("no key is active in %s", key.SecretName())
	}
	want, _ := active.JWTSecret()
	if !bytes.Equal(main.Data[jack.SecretKeyJWTSecret], want) {
		h.t.Fatalf("JWT_SECRET is not the active key %s", active.ID)
	}
	if key.Status.ActiveKeyID != active.ID {
		h.t.Fatalf("status.activeKeyID = %q, the ring's active key is %q", key.Status.ActiveKeyID, active.ID)
	}
	inStatus := map[string]jack.KeyState{}
	for _, k := range key.Status.Keys {
		inStatus[k.ID] = k.State
	}
	for _, k := range ring.Keys {
		if inStatus[k.ID] != k.State {
			h.t.Fatalf("status lists key %s as %q, the ring has it %q", k.ID, inStatus[k.ID], k.State)
		}
	}
	return ring
}

func (h *harness) readyCondition(name string) (status, reason, message string) {
	for _, c := range h.get(name).Status.Conditions {
		if c.Type == authv1alpha1.ConditionReady {
			return string(c.Status), c.Reason, c.Message
		}
	}
	return "", "", ""
}
