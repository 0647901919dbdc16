package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/apikey"
)

// syncBuffer is a bytes.Buffer safe for the manager's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// operatorLogs holds everything the suite's manager logged, at every verbosity.
var operatorLogs syncBuffer

// teeLogs is primary, with every line (at any verbosity) also written to buf.
func teeLogs(primary logr.Logger, buf *syncBuffer) logr.Logger {
	capture := funcr.New(func(prefix, args string) { _, _ = buf.Write([]byte(prefix + " " + args + "\n")) }, funcr.Options{Verbosity: 10})
	return logr.New(teeSink{a: primary.GetSink(), b: capture.GetSink()})
}

type teeSink struct{ a, b logr.LogSink }

func (t teeSink) Init(info logr.RuntimeInfo) {
	info.CallDepth++
	t.a.Init(info)
	t.b.Init(info)
}
func (t teeSink) Enabled(level int) bool { return t.a.Enabled(level) || t.b.Enabled(level) }
func (t teeSink) Info(level int, msg string, kv ...any) {
	if t.a.Enabled(level) {
		t.a.Info(level, msg, kv...)
	}
	if t.b.Enabled(level) {
		t.b.Info(level, msg, kv...)
	}
}
func (t teeSink) Error(err error, msg string, kv ...any) {
	t.a.Error(err, msg, kv...)
	t.b.Error(err, msg, kv...)
}
func (t teeSink) WithValues(kv ...any) logr.LogSink {
	return teeSink{a: t.a.WithValues(kv...), b: t.b.WithValues(kv...)}
}
func (t teeSink) WithName(name string) logr.LogSink {
	return teeSink{a: t.a.WithName(name), b: t.b.WithName(name)}
}

// keyHarness drives a JackAPIKeyReconciler by hand with a fake clock,
// against the real API server, in a namespace the manager does not watch.
type keyHarness struct {
	t      *testing.T
	ns     string
	clock  *clocktesting.FakeClock
	events *recordedEvents
	logs   syncBuffer
	r      *JackAPIKeyReconciler
}

func newKeyHarness(t *testing.T) *keyHarness {
	h := &keyHarness{t: t, ns: newNamespace(t), clock: clocktesting.NewFakeClock(epoch), events: &recordedEvents{}}
	h.r = &JackAPIKeyReconciler{Client: k8s, Recorder: h.events, Clock: h.clock, Generate: apikey.Generate}
	return h
}

func (h *keyHarness) reconcile(name string) ctrl.Result {
	h.t.Helper()
	log := funcr.New(func(prefix, args string) { _, _ = h.logs.Write([]byte(prefix + " " + args + "\n")) }, funcr.Options{Verbosity: 10})
	ctx := logrIntoContext(log)
	res, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: h.ns, Name: name}})
	if err != nil {
		h.t.Fatalf("reconcile of %s at %s: %v", name, h.clock.Now().Format(time.RFC3339), err)
	}
	return res
}

func logrIntoContext(l logr.Logger) context.Context { return logr.NewContext(context.Background(), l) }

func createAPIKey(t *testing.T, ns, name string, spec authv1alpha1.JackAPIKeySpec) *authv1alpha1.JackAPIKey {
	t.Helper()
	if spec.Role == "" {
		spec.Role = jack.RoleStaff
	}
	key := &authv1alpha1.JackAPIKey{}
	key.Name, key.Namespace, key.Spec = name, ns, spec
	if err := k8s.Create(context.Background(), key); err != nil {
		t.Fatalf("creating JackAPIKey %s: %v", name, err)
	}
	return key
}

func getAPIKey(t *testing.T, ns, name string) *authv1alpha1.JackAPIKey {
	t.Helper()
	return getObject(t, ns, name, &authv1alpha1.JackAPIKey{})
}

// keySecretValue is the value in the key's Secret; "" when there is none.
func keySecretValue(t *testing.T, ns, name string) string {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: APIKeySecretName(name)}, s); err != nil {
		return ""
	}
	return string(s.Data[jack.SecretKeyAPIKey])
}

// apiKeyReady is the key's Ready condition as "Status/Reason".
func apiKeyReady(k *authv1alpha1.JackAPIKey) string {
	c := meta.FindStatusCondition(k.Status.Conditions, authv1alpha1.ConditionReady)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

// valueStates lists the key's status values as "State:digest".
func valueStates(k *authv1alpha1.JackAPIKey) []string {
	var out []string
	for _, v := range k.Status.Values {
		out = append(out, string(v.State)+":"+v.Digest)
	}
	return out
}

// checkCurrent checks what a consumer and a sidecar would rely on: the
// Secret holds a well-formed key, and the status lists its digest and last
// four characters as the current value. It returns the value.
func checkCurrent(t *testing.T, ns, name string) string {
	t.Helper()
	value := keySecretValue(t, ns, name)
	if err := apikey.Check(value); err != nil {
		t.Fatalf("Secret %s does not hold a valid key: %v", APIKeySecretName(name), err)
	}
	k := getAPIKey(t, ns, name)
	if len(k.Status.Values) == 0 || k.Status.Values[0].State != authv1alpha1.APIKeyCurrent ||
		k.Status.Values[0].Digest != apikey.Digest(value) || k.Status.Values[0].Last4 != apikey.Last4(value) {
		t.Fatalf("status values %v do not list the Secret's value (digest %s, last4 %s) as current", valueStates(k), apikey.Digest(value), apikey.Last4(value))
	}
	return value
}

// usesSidecar answers /state with the key uses a test sets, as a real
// sidecar reports them in APIKeysLastUsed.
type usesSidecar struct {
	mu    sync.Mutex
	uses  map[string]time.Time
	reads int
	srv   *httptest.Server
}

func newUsesSidecar(t *testing.T) *usesSidecar {
	s := &usesSidecar{uses: map[string]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != jack.SidecarStatePath {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		s.reads++
		st := jack.SidecarState{SigningKey: "jack", APIKeysLastUsed: map[string]time.Time{}}
		for id, at := range s.uses {
			st.APIKeysLastUsed[id] = at
		}
		s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(st)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *usesSidecar) used(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uses[id] = at.UTC().Truncate(time.Hour)
}

func (s *usesSidecar) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

func (s *usesSidecar) port(t *testing.T) int32 {
	_, p, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}
