package controllers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/rotation"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// A SigningKey's key is promoted only once every ready sidecar of it holds
// the key. The operator learns what a sidecar holds by reading its ops port
// (jack.SidecarStatePath), which needs no permission of the sidecar's and
// gives the Jack container, which shares the pod's service account, none;
// docs/sessions.md weighs this against the alternatives.

// SidecarReader reads what the sidecar at addr (host:port of its ops port)
// holds, and asks it to confirm it acts on a change (jack.SidecarConfirmPath).
type SidecarReader interface {
	Read(ctx context.Context, addr string) (*jack.SidecarState, error)
	Confirm(ctx context.Context, addr string, query url.Values) (bool, error)
}

// HTTPSidecarReader reads /state over plain HTTP, as the ops port serves it.
type HTTPSidecarReader struct {
	Client *http.Client
}

// sidecarReadTimeout bounds one read: a sidecar that does not answer in
// time counts as lacking every key until the next read.
const sidecarReadTimeout = 2 * time.Second

// maxSidecarState bounds what is read of an answer; a ring has at most a
// few dozen keys.
const maxSidecarState = 64 << 10

func (r HTTPSidecarReader) Read(ctx context.Context, addr string) (*jack.SidecarState, error) {
	var st jack.SidecarState
	if err := r.get(ctx, addr, jack.SidecarStatePath, nil, sidecarReadTimeout, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Confirm asks the sidecar whether it acts on the change the query names,
// waiting as long as the query's wait allows (plus a margin for the answer).
func (r HTTPSidecarReader) Confirm(ctx context.Context, addr string, query url.Values) (bool, error) {
	wait, _ := time.ParseDuration(query.Get("wait"))
	var c jack.Confirmation
	if err := r.get(ctx, addr, jack.SidecarConfirmPath, query, min(wait, jack.SidecarConfirmMaxWait)+sidecarReadTimeout, &c); err != nil {
		return false, err
	}
	return c.Held, nil
}

// get reads one JSON answer from a sidecar's ops port. Its errors say what
// went wrong in words fit for a status condition, without the address.
func (r HTTPSidecarReader) get(ctx context.Context, addr, path string, query url.Values, timeout time.Duration, into any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := url.URL{Scheme: "http", Host: addr, Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("no answer within %s", timeout)
		}
		return errors.New("its ops port refused or dropped the connection")
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		// A sidecar older than the endpoint answers 404.
		return fmt.Errorf("%s answered %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxSidecarState)).Decode(into); err != nil {
		return fmt.Errorf("%s answered something other than JSON", path)
	}
	return nil
}

// sidecarPod is a ready injected pod of a SigningKey, where its sidecar's
// ops port is.
type sidecarPod struct {
	name string
	uid  types.UID
	addr string
}

// sidecarsOf lists the ready, injected pods whose sidecar serves the
// SigningKey (any SigningKey of the namespace when it is ""), sorted by name. A pod counts when its sidecar container is
// ready (or, before the kubelet reports containers, the pod is), it has an
// address, and it is neither finished nor being deleted.
func sidecarsOf(ctx context.Context, c client.Reader, ns, signingKey string) ([]sidecarPod, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{jack.LabelInject: jack.InjectRequested}); err != nil {
		return nil, fmt.Errorf("listing the pods of namespace %s: %w", ns, err)
	}
	var out []sidecarPod
	for i := range pods.Items {
		p := &pods.Items[i]
		c := sidecarContainer(p)
		if c == nil || p.Annotations[jack.AnnotationInjectedVersion] == "" || (signingKey != "" && sidecarSigningKey(c) != signingKey) ||
			!p.DeletionTimestamp.IsZero() || podFinished(p) || p.Status.PodIP == "" || !sidecarReady(p) {
			continue
		}
		port := opsPort(c)
		if port == 0 {
			continue
		}
		out = append(out, sidecarPod{name: p.Name, uid: p.UID, addr: net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(port)))})
	}
	slices.SortFunc(out, func(a, b sidecarPod) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// sidecarContainer is the injected jack-auth container: a native sidecar
// among the init containers, or a regular container.
func sidecarContainer(p *corev1.Pod) *corev1.Container {
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range list {
			if list[i].Name == jack.SidecarContainerName {
				return &list[i]
			}
		}
	}
	return nil
}

// sidecarSigningKey is the SigningKey the webhook gave the sidecar
// (--signing-key), which is the pod's annotation or the namespace's only
// SigningKey.
func sidecarSigningKey(c *corev1.Container) string {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--signing-key="); ok {
			return v
		}
	}
	return ""
}

func opsPort(c *corev1.Container) int32 {
	for _, p := range c.Ports {
		if p.Name == jack.SidecarOpsPortName {
			return p.ContainerPort
		}
	}
	return 0
}

func sidecarReady(p *corev1.Pod) bool {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, s := range list {
			if s.Name == jack.SidecarContainerName {
				return s.Ready
			}
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// sidecarRead is the last read of one sidecar.
type sidecarRead struct {
	state *jack.SidecarState // nil when the read failed
	err   error
	at    time.Time
}

// sidecarStates remembers the last read of every sidecar, by pod UID, so
// that a reconcile reads again only the sidecars that may have changed: one
// that lacks a key of the ring or does not sign with the active key, one
// that failed, or one read long ago. At rest, a SigningKey's reconcile
// reads only new pods.
type sidecarStates struct {
	mu    sync.Mutex
	reads map[types.UID]sidecarRead
}

// sidecarRereadAfter is how old a read that showed everything in order may
// grow before a reconcile reads the sidecar again anyway.
const sidecarRereadAfter = 5 * time.Minute

// sidecarReadConcurrency bounds the reads in flight for one reconcile.
const sidecarReadConcurrency = 16

// observe reads the sidecars that need it and returns, for each pod, what
// was last read, in the pods' order.
func (s *sidecarStates) observe(ctx context.Context, reader SidecarReader, pods []sidecarPod, ring *keyring.Ring, now time.Time) []sidecarRead {
	s.mu.Lock()
	if s.reads == nil {
		s.reads = map[types.UID]sidecarRead{}
	}
	out := make([]sidecarRead, len(pods))
	var stale []int
	for i, p := range pods {
		prev, ok := s.reads[p.uid]
		out[i] = prev
		if !ok || now.Sub(prev.at) >= sidecarRereadAfter || (now.Sub(prev.at) >= rotation.PropagationPoll/2 && !upToDate(prev.state, ring)) {
			stale = append(stale, i)
		}
	}
	s.mu.Unlock()

	forEachSidecar(len(stale), func(j int) {
		i := stale[j]
		st, err := reader.Read(ctx, pods[i].addr)
		out[i] = sidecarRead{state: st, err: err, at: now}
	})

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range stale {
		s.reads[pods[i].uid] = out[i]
	}
	// Pods that are gone are read by no reconcile: drop them once their
	// reads are older than any kept one could be.
	for uid, r := range s.reads {
		if now.Sub(r.at) > 2*sidecarRereadAfter {
			delete(s.reads, uid)
		}
	}
	return out
}

// upToDate reports whether a sidecar holds every key of the ring that signs
// or is about to, and signs with the active one.
func upToDate(st *jack.SidecarState, ring *keyring.Ring) bool {
	if st == nil || ring == nil {
		return false
	}
	for _, k := range ring.Keys {
		if (k.State == jack.KeyActive || k.State == jack.KeyPublished) && !st.Holds(k.ID) {
			return false
		}
	}
	active := ring.Active()
	return active == nil || st.SigningKeyID == "" || st.SigningKeyID == active.ID
}

// seenSidecars turns the reads into what rotation decides with.
func seenSidecars(pods []sidecarPod, reads []sidecarRead) rotation.Sidecars {
	var seen rotation.Sidecars
	for i, p := range pods {
		sc := rotation.Sidecar{Pod: p.name}
		if st := reads[i].state; st != nil && st.Ring != nil {
			sc.KeyIDs = make([]string, 0, len(st.Ring.Keys))
			for _, k := range st.Ring.Keys {
				sc.KeyIDs = append(sc.KeyIDs, k.ID)
			}
		}
		seen.Pods = append(seen.Pods, sc)
	}
	return seen
}

// confirmation is the outcome of asking sidecars to confirm a change.
type confirmation struct {
	total int
	// waiting answered that they do not act on it yet; silent did not
	// answer, the first error saying why.
	waiting, silent []string
	firstErr        error
}

func (c confirmation) done() bool { return len(c.waiting) == 0 && len(c.silent) == 0 }

// refusedBy is "confirmed/total".
func (c confirmation) refusedBy() string {
	return fmt.Sprintf("%d/%d", c.total-len(c.waiting)-len(c.silent), c.total)
}

// condition is the condition of type kind that the outcome leads to; what
// says what the sidecars confirm ("refuse the token").
func (c confirmation) condition(kind string, generation int64, what string) metav1.Condition {
	cond := metav1.Condition{Type: kind, ObservedGeneration: generation}
	switch {
	case c.done():
		cond.Status, cond.Reason = metav1.ConditionTrue, authv1alpha1.ReasonConfirmed
		cond.Message = fmt.Sprintf("every ready sidecar (%d) confirmed that they %s", c.total, what)
	case len(c.waiting) == 0:
		cond.Status, cond.Reason = metav1.ConditionFalse, authv1alpha1.ReasonSidecarsUnreachable
		cond.Message = fmt.Sprintf("%d of %d sidecars did not answer on their ops port (%s): %s",
			len(c.silent), c.total, errorText(c.firstErr), rotation.Names(c.silent, maxNamed))
	default:
		cond.Status, cond.Reason = metav1.ConditionFalse, authv1alpha1.ReasonAwaitingSidecars
		cond.Message = fmt.Sprintf("%d of %d sidecars have not confirmed within %s that they %s: %s",
			len(c.waiting)+len(c.silent), c.total, confirmWait, what, rotation.Names(append(slices.Clone(c.waiting), c.silent...), maxNamed))
	}
	return cond
}

// confirmAll asks every sidecar, in parallel, to confirm the change the
// query names (jack.SidecarConfirmPath).
func confirmAll(ctx context.Context, reader SidecarReader, pods []sidecarPod, query url.Values) confirmation {
	if reader == nil {
		reader = HTTPSidecarReader{}
	}
	held := make([]bool, len(pods))
	errs := make([]error, len(pods))
	forEachSidecar(len(pods), func(i int) { held[i], errs[i] = reader.Confirm(ctx, pods[i].addr, query) })
	c := confirmation{total: len(pods)}
	for i, p := range pods {
		switch {
		case errs[i] != nil:
			c.silent = append(c.silent, p.name)
			c.firstErr = cmp.Or(c.firstErr, errs[i])
		case !held[i]:
			c.waiting = append(c.waiting, p.name)
		}
	}
	return c
}

// forEachSidecar runs ask(i) for i in [0, n), at most sidecarReadConcurrency
// at a time, and returns when all have.
func forEachSidecar(n int, ask func(i int)) {
	sem := make(chan struct{}, sidecarReadConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ask(i)
		})
	}
	wg.Wait()
}
