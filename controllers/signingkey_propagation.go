package controllers

import (
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/rotation"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// propagation is what a SigningKey's status says of its sidecars after a
// reconcile: how many there are, how many hold each key, and the Propagated
// condition.
type propagation struct {
	total   int
	holders map[string]int32
	// newest is the key whose holders status.propagation counts.
	newest string
	// lagging are the sidecars that lack a key that signs or is about to.
	lagging []string
	status  metav1.ConditionStatus
	reason  string
	message string
}

// maxNamed is how many sidecars a condition or an event names.
const maxNamed = 5

// propagationOf decides the Propagated condition from the ring after the
// reconcile and what the sidecars were last read to hold.
func propagationOf(key string, pods []sidecarPod, reads []sidecarRead, res *rotation.Result) propagation {
	ring := res.Ring
	p := propagation{total: len(pods), holders: map[string]int32{}}
	var unreadable, lacking, switching []string
	var firstErr error
	for i, pod := range pods {
		st := reads[i].state
		if st == nil {
			unreadable = append(unreadable, pod.name)
			if firstErr == nil {
				firstErr = reads[i].err
			}
		}
		for _, k := range ring.Keys {
			if st.Holds(k.ID) {
				p.holders[k.ID]++
			}
		}
		switch {
		case !holdsSigningKeys(st, ring):
			lacking = append(lacking, pod.name)
		case !upToDate(st, ring):
			switching = append(switching, pod.name)
		}
	}
	active := ring.Active()
	published := publishedKey(ring)
	p.newest = active.ID
	if published != nil {
		p.newest = published.ID
	}
	p.lagging = lacking
	held := fmt.Sprintf("%d/%d", p.holders[p.newest], p.total)
	switch {
	case p.total == 0:
		p.status, p.reason = metav1.ConditionTrue, authv1alpha1.ReasonPropagated
		p.message = fmt.Sprintf("no ready sidecar serves SigningKey %s, so no key waits for one; key %s signs", key, active.ID)
	case res.Held != nil && len(unreadable) == len(res.Held.Lacking):
		p.status, p.reason = metav1.ConditionFalse, authv1alpha1.ReasonSidecarsUnreachable
		p.message = fmt.Sprintf("key %s waits for sidecars whose ops port did not answer (%s): %s; it signs once they hold it, or at %s (rotation.propagationTimeout)",
			res.Held.KeyID, errorText(firstErr), rotation.Names(unreadable, maxNamed), res.Held.Until.Format(time.RFC3339))
	case res.Held != nil:
		p.status, p.reason = metav1.ConditionFalse, authv1alpha1.ReasonSidecarsLagging
		p.message = fmt.Sprintf("key %s waits for sidecars that have not loaded it: %s (%s hold it); it signs once they do, or at %s (rotation.propagationTimeout)",
			res.Held.KeyID, rotation.Names(res.Held.Lacking, maxNamed), held, res.Held.Until.Format(time.RFC3339))
	case published != nil:
		p.status, p.reason = metav1.ConditionFalse, authv1alpha1.ReasonPropagating
		p.message = fmt.Sprintf("key %s is published and %s sidecars hold it; it signs from %s at the earliest, once every sidecar holds it",
			published.ID, held, published.ActivatedAt.Format(time.RFC3339))
	case len(unreadable) > 0:
		p.status, p.reason = metav1.ConditionFalse, authv1alpha1.ReasonSidecarsUnreachable
		p.message = fmt.Sprintf("%d of %d sidecars did not answer on their ops port (%s): %s", len(unreadable), p.total, errorText(firstErr), rotation.Names(unreadable, maxNamed))
	case len(lacking) > 0:
		p.status, p.reason = metav1.ConditionFalse, authv1alpha1.ReasonSidecarsLagging
		p.message = fmt.Sprintf("%d of %d sidecars lack the active key %s and refuse its tokens until their kubelet brings the ring: %s",
			len(lacking), p.total, active.ID, rotation.Names(lacking, maxNamed))
	case len(switching) > 0:
		p.status, p.reason = metav1.ConditionFalse, authv1alpha1.ReasonPropagating
		p.message = fmt.Sprintf("key %s signs; %d of %d sidecars have yet to switch to it: %s", active.ID, len(switching), p.total, rotation.Names(switching, maxNamed))
	default:
		p.status, p.reason = metav1.ConditionTrue, authv1alpha1.ReasonPropagated
		p.message = fmt.Sprintf("every ready sidecar (%d) holds key %s and signs with it", p.total, active.ID)
	}
	return p
}

// holdsSigningKeys reports whether a sidecar holds every key that signs or
// is about to.
func holdsSigningKeys(st *jack.SidecarState, ring *keyring.Ring) bool {
	if st == nil {
		return false
	}
	for _, k := range ring.Keys {
		if (k.State == jack.KeyActive || k.State == jack.KeyPublished) && !st.Holds(k.ID) {
			return false
		}
	}
	return true
}

func publishedKey(ring *keyring.Ring) *keyring.Key {
	for i := range ring.Keys {
		if ring.Keys[i].State == jack.KeyPublished {
			return &ring.Keys[i]
		}
	}
	return nil
}

func errorText(err error) string {
	if err == nil {
		return "no answer"
	}
	return err.Error()
}

// laggardEvents remembers, per SigningKey, which sidecars the last
// SidecarsLagging event named, so that a hold that lasts is reported when
// it starts and when its sidecars change, not on every poll.
type laggardEvents struct {
	mu   sync.Mutex
	last map[string]string
}

// changed records the sidecars now holding a key back (none: the hold is
// over) and reports whether they differ from the last ones named.
func (l *laggardEvents) changed(key string, lacking []string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]string{}
	}
	now := strings.Join(lacking, ",")
	if l.last[key] == now {
		return false
	}
	if now == "" {
		delete(l.last, key)
	} else {
		l.last[key] = now
	}
	return now != ""
}
