// Package apikeys decides what a JackAPIKey's reconcile does: whether its
// Secret needs a new value, which values its status lists, its Ready
// condition, its events and when to look again. It is pure — given the
// key, what its Secret holds and the time, it returns the next state — so
// every rule, and every point at which a reconcile can be interrupted, is a
// table case without a cluster.
//
// # Crash safety
//
// A new value is always written to the Secret BEFORE the status names its
// digest: a digest in the status whose value could be lost would be a key
// nobody holds. The reconciler therefore works in two steps: Decide says
// Write, the reconciler generates a value and writes the Secret, then calls
// Decide again with what the Secret now holds. That second call is exactly
// what a later reconcile sees when the process stopped between the two
// writes: a Secret whose value the status does not list. Decide finishes
// what was started — it makes the Secret's value current, keeps the value
// it replaced as Previous for the overlap, and marks a pending rotate
// request handled — so an interrupted creation, rotation or repair ends as
// if nothing had stopped it, and never rotates twice.
package apikeys

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// SecretState is what the key's Secret holds, as far as decisions go.
type SecretState int

const (
	// SecretMissing: no Secret of that name.
	SecretMissing SecretState = iota
	// SecretUnusable: the key's own Secret, without a valid key (its data
	// key is missing, empty, or fails apikey.Check).
	SecretUnusable
	// SecretHolds: the key's own Secret holds a valid key, whose digest and
	// last four characters are given.
	SecretHolds
	// SecretConflict: a Secret of that name exists and is not this key's
	// (no controller reference to it): it is never written or adopted.
	SecretConflict
)

// Secret is the key's Secret as read.
type Secret struct {
	Name  string
	State SecretState
	// Digest and Last4 describe the value, when State is SecretHolds.
	Digest string
	Last4  string
}

// Input is everything a decision depends on.
type Input struct {
	// Spec is the key's desired state.
	Spec authv1alpha1.JackAPIKeySpec
	// RotateRequest is the auth.jack.io/rotate annotation's value.
	RotateRequest string
	// Status is the key's status as read.
	Status authv1alpha1.JackAPIKeyStatus
	Secret Secret
	Now    time.Time
	// Wrote, when this reconcile has just written the Secret, is the Cause
	// of the decision that asked for it.
	Wrote string
}

// Write says what the reconciler must write to the Secret before anything else.
type Write int

const (
	// WriteNone: the Secret stays as it is.
	WriteNone Write = iota
	// WriteCreate: create the Secret with a new value.
	WriteCreate
	// WriteUpdate: put a new value into the existing Secret.
	WriteUpdate
)

// Event is one thing to report on the key; never a value, only last4.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

// Result is a decision.
type Result struct {
	// Write, when not WriteNone, asks for a new value in the Secret; the
	// rest of the Result then describes the state before it, for the
	// status to report if the write fails. Decide again after writing.
	Write Write
	// Cause is the event reason for the new value: ReasonKeyGenerated,
	// ReasonKeyRotated or ReasonKeyReplaced.
	Cause string

	// Values and LastRotateRequest are the status's, after the decision.
	Values            []authv1alpha1.APIKeyValue
	LastRotateRequest string
	// Ready is the Ready condition (Type, Status, Reason, Message).
	Ready metav1.Condition
	// Events are reported once the status is written.
	Events []Event
	// Rotated is true when a value became current in place of another
	// because of a rotate request (for the rotations metric).
	Rotated bool
	// Requeue is the next time the key changes by itself (an overlap ends,
	// the key expires); zero when none.
	Requeue time.Time
}

// DefaultOverlap is rotationOverlap when the spec has none (the CRD's default).
const DefaultOverlap = 24 * time.Hour

// Overlap is how long a replaced value keeps working.
func Overlap(spec authv1alpha1.JackAPIKeySpec) time.Duration {
	if spec.RotationOverlap == nil {
		return DefaultOverlap
	}
	return max(spec.RotationOverlap.Duration, 0)
}

// Decide decides one reconcile of a key.
func Decide(in Input) Result {
	res := Result{LastRotateRequest: in.Status.LastRotateRequest}
	current, previous := split(in.Status.Values)
	pending := in.RotateRequest != "" && in.RotateRequest != in.Status.LastRotateRequest
	newValue := func(w Write) Result {
		res.Write = w
		switch {
		case current == nil:
			res.Cause = authv1alpha1.ReasonKeyGenerated
		case in.Secret.State == SecretHolds && in.Secret.Digest == current.Digest:
			res.Cause = authv1alpha1.ReasonKeyRotated
		default:
			res.Cause = authv1alpha1.ReasonKeyReplaced
		}
		res.Values = cloneValues(in.Status.Values)
		res.Ready = condition(metav1.ConditionFalse, authv1alpha1.ReasonSecretMissing,
			fmt.Sprintf("Secret %s holds no valid key under %q; the operator is writing a new value", in.Secret.Name, "apikey"))
		if res.Cause == authv1alpha1.ReasonKeyRotated {
			res.Ready = ready(in, current, previous)
		}
		return res
	}

	switch in.Secret.State {
	case SecretConflict:
		res.Values, previous = dropEnded(&res, in.Now, current, previous)
		res.Ready = condition(metav1.ConditionFalse, authv1alpha1.ReasonSecretConflict,
			fmt.Sprintf("Secret %s exists and is not this JackAPIKey's (it has no controller reference to it); the operator will not overwrite it: delete it, and a new value is written", in.Secret.Name))
		res.Events = transition(in, res.Ready, res.Events)
		res.Requeue = nextChange(in, previous)
		return res
	case SecretMissing:
		return newValue(WriteCreate)
	case SecretUnusable:
		return newValue(WriteUpdate)
	}

	if current == nil || in.Secret.Digest != current.Digest {
		// The Secret holds a value the status does not list as current: the
		// operator wrote it and stopped before the status said so (or just
		// now wrote it), or someone edited the Secret. It is what consumers
		// now read, so it becomes current.
		current, previous = adopt(in, &res, current, previous)
	} else if pending {
		return newValue(WriteUpdate)
	}
	var values []authv1alpha1.APIKeyValue
	values, previous = dropEnded(&res, in.Now, current, previous)
	res.Values = values
	res.Ready = ready(in, current, previous)
	res.Events = transition(in, res.Ready, res.Events)
	res.Requeue = nextChange(in, previous)
	return res
}

// adopt makes the Secret's value current; the value it replaces stays valid
// for the overlap (none when it is 0s), and a value older than that stops
// at once.
func adopt(in Input, res *Result, current, previous *authv1alpha1.APIKeyValue) (*authv1alpha1.APIKeyValue, *authv1alpha1.APIKeyValue) {
	now := metav1.NewTime(in.Now)
	adopted := &authv1alpha1.APIKeyValue{Digest: in.Secret.Digest, Last4: in.Secret.Last4, State: authv1alpha1.APIKeyCurrent, CreatedAt: now}
	if previous != nil && previous.Digest == in.Secret.Digest {
		// An earlier value put back by hand keeps its age.
		adopted.CreatedAt = previous.CreatedAt
	}
	pending := in.RotateRequest != "" && in.RotateRequest != in.Status.LastRotateRequest
	if pending {
		res.LastRotateRequest = in.RotateRequest
	}
	if current == nil {
		res.Events = append(res.Events, Event{Reason: authv1alpha1.ReasonKeyGenerated,
			Message: fmt.Sprintf("Secret %s holds the key's value ...%s", in.Secret.Name, adopted.Last4)})
		return adopted, nil
	}

	overlap := Overlap(in.Spec)
	var kept *authv1alpha1.APIKeyValue
	var after string
	if overlap > 0 {
		until := metav1.NewTime(in.Now.Add(overlap))
		kept = &authv1alpha1.APIKeyValue{Digest: current.Digest, Last4: current.Last4, State: authv1alpha1.APIKeyPrevious,
			CreatedAt: current.CreatedAt, ValidUntil: &until}
		after = fmt.Sprintf("the value it replaced, ...%s, works until %s (rotationOverlap %s)", current.Last4, until.UTC().Format(time.RFC3339), overlap)
	} else {
		after = fmt.Sprintf("the value it replaced, ...%s, stopped working at once (rotationOverlap 0s)", current.Last4)
	}
	if previous != nil && previous.Digest != in.Secret.Digest {
		after += fmt.Sprintf("; the earlier previous value ...%s stopped working at once", previous.Last4)
	}
	switch {
	case pending:
		res.Rotated = true
		res.Events = append(res.Events, Event{Reason: authv1alpha1.ReasonKeyRotated,
			Message: fmt.Sprintf("rotated (auth.jack.io/rotate=%s): Secret %s holds the new value ...%s; %s", in.RotateRequest, in.Secret.Name, adopted.Last4, after)})
	case in.Wrote != "":
		res.Events = append(res.Events, Event{Warning: true, Reason: authv1alpha1.ReasonKeyReplaced,
			Message: fmt.Sprintf("Secret %s no longer held the current value (it was deleted, emptied or edited); it holds a new value ...%s; %s", in.Secret.Name, adopted.Last4, after)})
	default:
		res.Events = append(res.Events, Event{Warning: true, Reason: authv1alpha1.ReasonKeyReplaced,
			Message: fmt.Sprintf("Secret %s holds a value the status did not list (a write the operator did not finish, or an edit by hand): ...%s is now current; %s", in.Secret.Name, adopted.Last4, after)})
	}
	return adopted, kept
}

// dropEnded lists the values after dropping a previous value whose overlap
// has ended; it returns the previous value that remains, if any.
func dropEnded(res *Result, now time.Time, current, previous *authv1alpha1.APIKeyValue) ([]authv1alpha1.APIKeyValue, *authv1alpha1.APIKeyValue) {
	if previous != nil && (previous.ValidUntil == nil || !now.Before(previous.ValidUntil.Time)) {
		res.Events = append(res.Events, Event{Reason: authv1alpha1.ReasonPreviousValueDropped,
			Message: fmt.Sprintf("the previous value ...%s stopped working: its overlap ended", previous.Last4)})
		previous = nil
	}
	var values []authv1alpha1.APIKeyValue
	if current != nil {
		values = append(values, *current)
	}
	if previous != nil {
		values = append(values, *previous)
	}
	return values, previous
}

// ready is the Ready condition of a key whose Secret holds current.
func ready(in Input, current, previous *authv1alpha1.APIKeyValue) metav1.Condition {
	switch {
	case in.Spec.Disabled:
		return condition(metav1.ConditionFalse, authv1alpha1.ReasonAPIKeyDisabled,
			"spec.disabled is true: every sidecar refuses the key; its values are kept, so setting it back to false lets them work again")
	case in.Spec.Expires != nil && !in.Now.Before(in.Spec.Expires.Time):
		return condition(metav1.ConditionFalse, authv1alpha1.ReasonAPIKeyExpired,
			fmt.Sprintf("the key expired at %s (spec.expires): every sidecar refuses it; a later spec.expires lets it work again", in.Spec.Expires.UTC().Format(time.RFC3339)))
	}
	msg := fmt.Sprintf("Secret %s holds the current value ...%s", in.Secret.Name, current.Last4)
	if previous != nil {
		msg += fmt.Sprintf("; the previous value ...%s works until %s", previous.Last4, previous.ValidUntil.UTC().Format(time.RFC3339))
	}
	if in.Spec.Expires != nil {
		msg += fmt.Sprintf("; the key expires at %s", in.Spec.Expires.UTC().Format(time.RFC3339))
	}
	return condition(metav1.ConditionTrue, authv1alpha1.ReasonAPIKeyReady, msg)
}

// transition adds the events of a Ready condition that changed reason: a key
// disabled, expired, in conflict, or working again.
func transition(in Input, now metav1.Condition, events []Event) []Event {
	var before *metav1.Condition
	for i := range in.Status.Conditions {
		if in.Status.Conditions[i].Type == authv1alpha1.ConditionReady {
			before = &in.Status.Conditions[i]
		}
	}
	if before != nil && before.Reason == now.Reason {
		return events
	}
	switch now.Reason {
	case authv1alpha1.ReasonAPIKeyDisabled, authv1alpha1.ReasonAPIKeyExpired:
		events = append(events, Event{Reason: now.Reason, Message: now.Message})
	case authv1alpha1.ReasonSecretConflict:
		events = append(events, Event{Warning: true, Reason: now.Reason, Message: now.Message})
	case authv1alpha1.ReasonAPIKeyReady:
		if before != nil && (before.Reason == authv1alpha1.ReasonAPIKeyDisabled || before.Reason == authv1alpha1.ReasonAPIKeyExpired) {
			events = append(events, Event{Reason: now.Reason, Message: "the key works again: " + now.Message})
		}
	}
	return events
}

// nextChange is when the key next changes by itself.
func nextChange(in Input, previous *authv1alpha1.APIKeyValue) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(in.Now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if previous != nil && previous.ValidUntil != nil {
		consider(previous.ValidUntil.Time)
	}
	if in.Spec.Expires != nil {
		consider(in.Spec.Expires.Time)
	}
	return next
}

// split finds the current and the previous value; a status with more of
// either (written by hand) counts only the first.
func split(values []authv1alpha1.APIKeyValue) (current, previous *authv1alpha1.APIKeyValue) {
	for i := range values {
		v := values[i]
		switch {
		case v.State == authv1alpha1.APIKeyCurrent && current == nil:
			current = &v
		case v.State == authv1alpha1.APIKeyPrevious && previous == nil:
			previous = &v
		}
	}
	return current, previous
}

func cloneValues(values []authv1alpha1.APIKeyValue) []authv1alpha1.APIKeyValue {
	out := make([]authv1alpha1.APIKeyValue, 0, len(values))
	for _, v := range values {
		out = append(out, *v.DeepCopy())
	}
	return out
}

func condition(status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: authv1alpha1.ConditionReady, Status: status, Reason: reason, Message: message}
}

// LastUsed is status.lastUsed after the sidecars reported seen (zero when
// none did): it only moves forward, and changed says whether it did.
func LastUsed(status *metav1.Time, seen time.Time) (_ *metav1.Time, changed bool) {
	if seen.IsZero() {
		return status, false
	}
	seen = seen.UTC().Truncate(time.Hour)
	if status != nil && !seen.After(status.Time) {
		return status, false
	}
	t := metav1.NewTime(seen)
	return &t, true
}
