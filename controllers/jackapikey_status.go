package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/apikeys"
)

// report writes the key's status from the decision, when it changed, then
// the decision's events and the metrics. Events come after the status, so
// they never announce what the status does not say; an interrupted
// reconcile re-decides them from the status it left.
func (r *JackAPIKeyReconciler) report(ctx context.Context, key *authv1alpha1.JackAPIKey, d *apikeys.Result, now time.Time) error {
	before := key.DeepCopy()
	if key.Status.ID == "" {
		key.Status.ID = APIKeyID(key.UID)
	}
	if d.Write == apikeys.WriteNone && d.Ready.Reason != authv1alpha1.ReasonSecretConflict {
		key.Status.SecretName = APIKeySecretName(key.Name)
	}
	key.Status.Values = d.Values
	key.Status.LastRotateRequest = d.LastRotateRequest
	key.Status.Expires = key.Spec.Expires
	if len(before.Status.Values) > 0 {
		// A key without a value yet has never been used.
		key.Status.LastUsed, _ = apikeys.LastUsed(key.Status.LastUsed, r.lastUse(ctx, key.Namespace, key.Status.ID, now))
	}
	cond := d.Ready
	cond.ObservedGeneration = key.Generation
	meta.SetStatusCondition(&key.Status.Conditions, cond)
	key.Status.ObservedGeneration = key.Generation

	if !equality.Semantic.DeepEqual(before.Status, key.Status) {
		if err := r.Status().Patch(ctx, key, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("writing the status of JackAPIKey %s: %w", key.Name, err)
		}
	}
	for _, e := range d.Events {
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(key, nil, kind, e.Reason, "Reconcile", "%s", e.Message)
	}
	recordAPIKeyMetrics(key, d)
	return nil
}

// lastUsedReads remembers, per namespace, what its sidecars last reported
// of their keys' use and when they were asked.
type lastUsedReads struct {
	mu   sync.Mutex
	byNS map[string]namespaceUses
}

type namespaceUses struct {
	at   time.Time
	seen map[string]time.Time // status.id → start of the hour of the last use
}

func (r *JackAPIKeyReconciler) lastUsedInterval() time.Duration {
	if r.LastUsedInterval > 0 {
		return r.LastUsedInterval
	}
	return DefaultLastUsedInterval
}

// lastUse is the latest hour in which any ready sidecar of the namespace
// reported accepting the key, asking them at most once per
// lastUsedInterval per namespace; zero when none did.
func (r *JackAPIKeyReconciler) lastUse(ctx context.Context, ns, id string, now time.Time) time.Time {
	u := &r.lastUsed
	u.mu.Lock()
	uses, ok := u.byNS[ns]
	u.mu.Unlock()
	if !ok || now.Sub(uses.at) >= r.lastUsedInterval() || now.Before(uses.at) {
		uses = r.readUses(ctx, ns, now)
		u.mu.Lock()
		if u.byNS == nil {
			u.byNS = map[string]namespaceUses{}
		}
		u.byNS[ns] = uses
		u.mu.Unlock()
	}
	return uses.seen[id]
}

// readUses asks every ready injected sidecar of the namespace for its state
// (the ops port's /state, as for SigningKey propagation) and keeps, per key,
// the latest hour any reported. A sidecar that does not answer is asked
// again next time.
func (r *JackAPIKeyReconciler) readUses(ctx context.Context, ns string, now time.Time) namespaceUses {
	out := namespaceUses{at: now, seen: map[string]time.Time{}}
	pods, err := sidecarsOf(ctx, r.Client, ns, "")
	if err != nil {
		logf.FromContext(ctx).V(1).Info("could not list the sidecars to learn when API keys were last used", "namespace", ns, "error", err.Error())
		return out
	}
	states := make([]*jack.SidecarState, len(pods))
	reader := r.sidecarReader()
	forEachSidecar(len(pods), func(i int) {
		if st, err := reader.Read(ctx, pods[i].addr); err == nil {
			states[i] = st
		}
	})
	for _, st := range states {
		if st == nil {
			continue
		}
		for id, t := range st.APIKeysLastUsed {
			if t.After(out.seen[id]) {
				out.seen[id] = t
			}
		}
	}
	return out
}
