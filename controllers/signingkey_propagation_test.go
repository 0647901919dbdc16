package controllers

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// standInSidecar answers the sidecar's /state on its own port with the key
// ids a test sets: what a real sidecar would report of the ring the kubelet
// last brought it. (The real sidecar's /state is tested in ./sidecar; the
// end-to-end journey runs both together.)
type standInSidecar struct {
	mu      sync.Mutex
	keys    []string
	signing string
	// refuses are the TokenRevocations it confirms; usersEnded, by JackUser
	// name, the sessionsValidAfter it has seen.
	refuses    map[string]bool
	usersEnded map[string]time.Time
	// logins, by JackUser name, is the login its directory and watch hold
	// (loginOf); loginAsks counts the login questions.
	logins    map[string]string
	loginAsks int
	srv       *httptest.Server
}

func newStandIn(t *testing.T, keys ...string) *standInSidecar {
	s := &standInSidecar{}
	s.load(keys...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == jack.SidecarConfirmPath {
			q := r.URL.Query()
			s.mu.Lock()
			held := s.refuses[q.Get("revocation")] && q.Get("generation") == "1"
			if u := q.Get("user"); u != "" {
				after, err := time.Parse(time.RFC3339, q.Get("sessionsValidAfter"))
				held = err == nil && !s.usersEnded[u].Before(after)
			}
			if u := q.Get("login"); u != "" {
				s.loginAsks++
				held = s.logins[u] == loginOf(q.Get("id"), q.Get("email"), q.Get("passwordVersion"), q.Get("disabled") == "true")
			}
			s.mu.Unlock()
			_ = json.NewEncoder(w).Encode(jack.Confirmation{Held: held})
			return
		}
		if r.URL.Path != jack.SidecarStatePath {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		st := jack.SidecarState{SigningKey: "jack", Ring: &jack.RingState{Version: strings.Join(s.keys, ",")}, SigningKeyID: s.signing}
		for _, k := range s.keys {
			st.Ring.Keys = append(st.Ring.Keys, jack.KeyStateReport{ID: k})
		}
		s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(st)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// load is the kubelet bringing a ring with these keys. The sidecar goes on
// signing with the key it signed with (the first, at the start) until told
// otherwise: a real one switches when it learns of a promotion.
func (s *standInSidecar) load(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = slices.Clone(keys)
	if s.signing == "" && len(keys) > 0 {
		s.signing = keys[0]
	}
}

// refuse is the sidecar's watch delivering the revocation.
func (s *standInSidecar) refuse(revocation string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuses == nil {
		s.refuses = map[string]bool{}
	}
	s.refuses[revocation] = true
}

// endSessions is the sidecar's watch delivering a JackUser status whose
// sessionsValidAfter is after.
func (s *standInSidecar) endSessions(user string, after time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usersEnded == nil {
		s.usersEnded = map[string]time.Time{}
	}
	s.usersEnded[user] = after
}

// loadLogin is the kubelet bringing a directory, and the watch a JackUser,
// with this login of the JackUser name.
func (s *standInSidecar) loadLogin(name, id, email, passwordVersion string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logins == nil {
		s.logins = map[string]string{}
	}
	s.logins[name] = loginOf(id, email, passwordVersion, disabled)
}

func loginOf(id, email, passwordVersion string, disabled bool) string {
	return strings.Join([]string{id, email, passwordVersion, strconv.FormatBool(disabled)}, "|")
}

func (s *standInSidecar) loginQuestions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loginAsks
}

func (s *standInSidecar) signWith(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signing = kid
}

func (s *standInSidecar) port(t *testing.T) int32 {
	_, p, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// injectedPod creates a ready pod as the webhook and the kubelet leave it:
// its sidecar serves SigningKey jack, with its ops port at port on 127.0.0.1.
func (h *harness) injectedPod(name string, port int32, ready bool) {
	h.t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: h.ns,
			Labels:      map[string]string{jack.LabelInject: jack.InjectRequested},
			Annotations: map[string]string{jack.AnnotationInjectedVersion: "test"},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: jack.SidecarContainerName, Image: "jack-auth:test", Args: []string{"serve", "--signing-key=jack"},
				Ports: []corev1.ContainerPort{{Name: jack.SidecarOpsPortName, ContainerPort: port}}},
			{Name: "jack", Image: "jack:test"},
		}},
	}
	if err := k8s.Create(ctx, p); err != nil {
		h.t.Fatal(err)
	}
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: "127.0.0.1",
		ContainerStatuses: []corev1.ContainerStatus{{Name: jack.SidecarContainerName, Ready: ready}, {Name: "jack", Ready: ready}},
	}
	if err := k8s.Status().Update(ctx, p); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) propagated(name string) (status, reason, message, counts string) {
	key := h.get(name)
	for _, c := range key.Status.Conditions {
		if c.Type == authv1alpha1.ConditionPropagated {
			return string(c.Status), c.Reason, c.Message, key.Status.Propagation
		}
	}
	return "", "", "", key.Status.Propagation
}

func (h *harness) wantPropagated(name, status, reason, counts string, mentions ...string) {
	h.t.Helper()
	gotStatus, gotReason, msg, gotCounts := h.propagated(name)
	if gotStatus != status || gotReason != reason || gotCounts != counts {
		h.t.Fatalf("Propagated = %s/%s with %s sidecars (%q), want %s/%s with %s", gotStatus, gotReason, gotCounts, msg, status, reason, counts)
	}
	for _, m := range mentions {
		if !strings.Contains(msg, m) {
			h.t.Errorf("the Propagated message %q does not mention %q", msg, m)
		}
	}
}

// TestPromotionWaitsForEverySidecar walks two rotations with two sidecars:
// the first waits past prepublish for the one that lags and promotes once it
// catches up; the second meets a sidecar that never does, which holds it
// until rotation.propagationTimeout and is named all along.
func TestPromotionWaitsForEverySidecar(t *testing.T) {
	h := newHarness(t)
	h.create("jack", authv1alpha1.SigningKeySpec{})
	h.reconcile("jack")
	first := h.ring("jack").Active().ID
	a, b := newStandIn(t, first), newStandIn(t, first)
	h.injectedPod("a", a.port(t), true)
	h.injectedPod("b", b.port(t), true)
	h.injectedPod("starting", a.port(t), false) // not ready: not waited for
	h.events.take()

	h.reconcile("jack")
	h.wantPropagated("jack", "True", authv1alpha1.ReasonPropagated, "2/2")
	if n := h.get("jack").Status.Sidecars; n == nil || *n != 2 {
		t.Fatalf("status.sidecars = %v, want 2", n)
	}

	// A rotation: published, and nobody has the new key yet.
	h.update("jack", func(k *authv1alpha1.SigningKey) { k.Annotations = map[string]string{jack.AnnotationRotate: "1"} })
	res := h.reconcile("jack")
	h.events.take()
	second := publishedKey(h.ring("jack")).ID
	h.wantPropagated("jack", "False", authv1alpha1.ReasonPropagating, "0/2", second)
	if res.RequeueAfter > time.Second {
		t.Errorf("while sidecars lack the published key the reconcile comes back in %s, want within a second", res.RequeueAfter)
	}
	if got := h.get("jack").Status.LastRotateRequest; got != "1" {
		t.Errorf("status.lastRotateRequest = %q in the same write as Propagated=False, want 1", got)
	}

	// Past prepublish, b has not loaded it: the key waits, and b is named.
	a.load(first, second)
	h.clock.Step(5 * time.Minute)
	h.reconcile("jack")
	if got := h.ring("jack").Active().ID; got != first {
		t.Fatalf("key %s signs although sidecar b lacks it", got)
	}
	h.wantPropagated("jack", "False", authv1alpha1.ReasonSidecarsLagging, "1/2", second, "b", "propagationTimeout")
	if evs := h.events.take(); len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning SidecarsLagging") || !strings.Contains(evs[0], "b") {
		t.Fatalf("events = %q, want one Warning SidecarsLagging naming b", evs)
	}
	h.clock.Step(time.Minute)
	h.reconcile("jack")
	if evs := h.events.take(); len(evs) != 0 {
		t.Errorf("the same hold was reported again: %q", evs)
	}

	// b catches up: the key signs at once.
	b.load(first, second)
	h.clock.Step(time.Second)
	h.reconcile("jack")
	if got := h.ring("jack").Active().ID; got != second {
		t.Fatalf("active key = %s once every sidecar holds %s", got, second)
	}
	if got := reasonsOf(h.events.take()); !slices.Equal(got, []string{"KeyRetired", "Rotated"}) {
		t.Errorf("events = %v, want KeyRetired, Rotated", got)
	}
	// Until the sidecars sign with it, the rotation is not over.
	h.wantPropagated("jack", "False", authv1alpha1.ReasonPropagating, "2/2", "a, b")
	a.signWith(second)
	h.clock.Step(time.Second)
	h.reconcile("jack")
	h.wantPropagated("jack", "False", authv1alpha1.ReasonPropagating, "2/2", "b")
	b.signWith(second)
	h.clock.Step(time.Second)
	h.reconcile("jack")
	h.wantPropagated("jack", "True", authv1alpha1.ReasonPropagated, "2/2")
	for _, k := range h.get("jack").Status.Keys {
		if k.Sidecars == nil || *k.Sidecars != 2 {
			t.Errorf("status of key %s says %v sidecars hold it, want 2", k.ID, k.Sidecars)
		}
	}

	// A second rotation meets a sidecar frozen on its ring.
	h.update("jack", func(k *authv1alpha1.SigningKey) { k.Annotations[jack.AnnotationRotate] = "2" })
	h.reconcile("jack")
	third := publishedKey(h.ring("jack")).ID
	a.load(first, second, third)
	h.clock.Step(5*time.Minute + 15*time.Minute - time.Second)
	h.reconcile("jack")
	if got := h.ring("jack").Active().ID; got != second {
		t.Fatalf("key %s signs before propagationTimeout although b lacks it", got)
	}
	h.clock.Step(time.Second)
	h.events.take()
	h.reconcile("jack")
	if got := h.ring("jack").Active().ID; got != third {
		t.Fatalf("active key = %s after propagationTimeout, want %s", got, third)
	}
	evs := h.events.take()
	if !slices.ContainsFunc(evs, func(e string) bool {
		return strings.HasPrefix(e, "Warning PropagationTimedOut") && strings.Contains(e, "b")
	}) {
		t.Errorf("events = %q, want a Warning PropagationTimedOut naming b", evs)
	}
	h.wantPropagated("jack", "False", authv1alpha1.ReasonSidecarsLagging, "1/2", "b", third)
}

// TestASidecarThatDoesNotAnswerHoldsPromotion: a sidecar whose ops port is
// closed counts as lacking every key, and the condition says it did not
// answer.
func TestASidecarThatDoesNotAnswerHoldsPromotion(t *testing.T) {
	h := newHarness(t)
	h.create("jack", authv1alpha1.SigningKeySpec{})
	h.reconcile("jack")
	first := h.ring("jack").Active().ID
	a := newStandIn(t, first)
	closed := newStandIn(t)
	port := closed.port(t)
	closed.srv.Close()
	h.injectedPod("a", a.port(t), true)
	h.injectedPod("silent", port, true)
	h.reconcile("jack")
	h.wantPropagated("jack", "False", authv1alpha1.ReasonSidecarsUnreachable, "1/2", "silent")

	h.update("jack", func(k *authv1alpha1.SigningKey) { k.Annotations = map[string]string{jack.AnnotationRotate: "1"} })
	h.reconcile("jack")
	a.load(first, publishedKey(h.ring("jack")).ID)
	h.clock.Step(5 * time.Minute)
	h.reconcile("jack")
	if got := h.ring("jack").Active().ID; got != first {
		t.Fatalf("key %s signs although sidecar silent did not answer", got)
	}
	h.wantPropagated("jack", "False", authv1alpha1.ReasonSidecarsUnreachable, "1/2", "silent", "did not answer")
}
