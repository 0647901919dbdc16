package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// reportUser writes one user's status from its plan, when it changed, and
// records the events of what changed. Never a password or a hash: the
// plan's messages name Secrets and keys only.
func (r *JackUserReconciler) reportUser(ctx context.Context, p *userPlan) error {
	u := p.user
	before := u.DeepCopy()
	ready, reason, message := p.readyCondition()
	if p.excluded {
		ready, reason, message = false, p.reason, p.message
	}
	u.Status.ID = p.id
	if !p.excluded && !p.entry.SessionsValidAfter.IsZero() {
		t := metav1.NewTime(ceilSecond(p.entry.SessionsValidAfter))
		u.Status.SessionsValidAfter = &t
	}
	if !p.excluded {
		u.Status.PasswordVersion = p.entry.PasswordVersion
	}
	if p.endSessionsRequest != "" && !p.excluded {
		u.Status.LastEndSessionsRequest = p.endSessionsRequest
	}
	status := metav1.ConditionFalse
	if ready {
		status = metav1.ConditionTrue
	}
	changed := meta.SetStatusCondition(&u.Status.Conditions, metav1.Condition{
		Type: authv1alpha1.ConditionReady, Status: status, Reason: reason, Message: message, ObservedGeneration: u.Generation,
	})
	u.Status.ObservedGeneration = u.Generation

	if changed && !ready && reason != authv1alpha1.ReasonUserDisabled {
		r.Recorder.Eventf(u, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", message)
	}
	if p.sessionsEnded != "" {
		r.Recorder.Eventf(u, nil, corev1.EventTypeNormal, authv1alpha1.ReasonSessionsEnded, "Reconcile",
			"every session of %s ended: %s", p.id, p.sessionsEnded)
	}
	if equality.Semantic.DeepEqual(before.Status, u.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, u, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing the status of JackUser %s: %w", u.Name, err)
	}
	return nil
}

// reportAll marks every user of a namespace not ready for one reason.
func (r *JackUserReconciler) reportAll(ctx context.Context, users []authv1alpha1.JackUser, reason, message string) error {
	var errs []error
	for i := range users {
		p := userPlan{user: &users[i], id: users[i].Status.ID, excluded: true, reason: reason, message: message}
		if err := r.reportUser(ctx, &p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// ceilSecond rounds t up to a whole second, the precision of a status time.
// Tokens are issued at whole seconds (their iat), so "issued before t" and
// "issued before ceilSecond(t)" refuse the same tokens, while truncating
// would let a token issued in the second the sessions ended survive in any
// reader of the status — a sidecar watching it, or the directory rebuilt
// from it.
func ceilSecond(t time.Time) time.Time {
	if c := t.Truncate(time.Second); !c.Equal(t) {
		return c.Add(time.Second)
	}
	return t
}
