package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/rotation"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// readiness is the Ready condition a reconcile arrived at.
type readiness struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

func notReady(reason, message string) readiness {
	return readiness{status: metav1.ConditionFalse, reason: reason, message: message}
}

func activeReadiness(ring *keyring.Ring) readiness {
	verifying := 0
	for _, k := range ring.Keys {
		if k.State != jack.KeyActive {
			verifying++
		}
	}
	return readiness{
		status: metav1.ConditionTrue,
		reason: authv1alpha1.ReasonKeyActive,
		message: fmt.Sprintf("key %s (%s) signs new tokens; %d more key(s) verify",
			ring.Active().ID, ring.Active().Algorithm, verifying),
	}
}

// patchStatus writes the status once per reconcile, and only when it changed.
// It never holds key material: keys appear by id, state, times and fingerprint.
func (r *SigningKeyReconciler) patchStatus(ctx context.Context, before *authv1alpha1.SigningKey, s *signingKeyScope) error {
	key := s.key
	st := &key.Status
	st.SecretName = key.SecretName()
	if res := s.result; res != nil {
		active := res.Ring.Active()
		st.ActiveKeyID = active.ID
		st.Keys = keyStatuses(res.Ring, before.Status.Keys, key.Spec.RevokedKeyIDs)
		st.LastRotationTime = timeOrNil(active.ActivatedAt)
		st.NextRotationTime = timeOrNil(res.NextRotation)
		st.LastRotateRequest = res.HandledRotateRequest
		recordSigningKeyMetrics(key, res)
	}
	if p := s.propagation; p != nil {
		total := int32(p.total)
		st.Sidecars = &total
		st.Propagation = fmt.Sprintf("%d/%d", p.holders[p.newest], p.total)
		for i := range st.Keys {
			if st.Keys[i].State != jack.KeyRevoked {
				n := p.holders[st.Keys[i].ID]
				st.Keys[i].Sidecars = &n
			}
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type:               authv1alpha1.ConditionPropagated,
			Status:             p.status,
			Reason:             p.reason,
			Message:            p.message,
			ObservedGeneration: key.Generation,
		})
		recordPropagationMetrics(key, p, s.result, s.now)
	}
	if s.ready.reason != "" {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type:               authv1alpha1.ConditionReady,
			Status:             s.ready.status,
			Reason:             s.ready.reason,
			Message:            s.ready.message,
			ObservedGeneration: key.Generation,
		})
		if s.ready.status == metav1.ConditionTrue {
			st.ObservedGeneration = key.Generation
		}
	}
	if equality.Semantic.DeepEqual(before.Status, key.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, key, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing the status of SigningKey %s: %w", key.Name, err)
	}
	return nil
}

// keyStatuses lists the ring's keys, and the revoked keys the user still
// lists in spec.revokedKeyIDs, so they can see the revocation took effect.
func keyStatuses(ring *keyring.Ring, previous []authv1alpha1.KeyStatus, revoked []string) []authv1alpha1.KeyStatus {
	out := make([]authv1alpha1.KeyStatus, 0, len(ring.Keys))
	for _, k := range ring.Keys {
		out = append(out, authv1alpha1.KeyStatus{
			ID:          k.ID,
			State:       k.State,
			Algorithm:   k.Algorithm,
			Fingerprint: k.Fingerprint(),
			Legacy:      k.Legacy,
			PublishedAt: timeOrNil(k.PublishedAt),
			ActivatedAt: timeOrNil(k.ActivatedAt),
			RetiredAt:   timeOrNil(k.RetiredAt),
			ExpiresAt:   timeOrNil(k.ExpiresAt),
		})
	}
	for _, p := range previous {
		if slices.Contains(revoked, p.ID) && ring.Find(p.ID) == nil {
			p.State = jack.KeyRevoked
			out = append(out, p)
		}
	}
	return out
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

// recordRotationEvents reports what happened to the ring, one event per
// key transition, by key id only.
func (r *SigningKeyReconciler) recordRotationEvents(key *authv1alpha1.SigningKey, evs []rotation.Event) {
	for _, e := range evs {
		if e.Reason == authv1alpha1.ReasonRotated {
			signingKeyRotations.WithLabelValues(key.Namespace, key.Name).Inc()
		}
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(key, nil, kind, e.Reason, "Rotate", "%s", e.Message)
	}
}
