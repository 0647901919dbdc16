package apikeys

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

var (
	t0  = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	now = t0.Add(48 * time.Hour)
)

func at(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func cur(digest, last4 string, created time.Time) authv1alpha1.APIKeyValue {
	return authv1alpha1.APIKeyValue{Digest: digest, Last4: last4, State: authv1alpha1.APIKeyCurrent, CreatedAt: metav1.NewTime(created)}
}

func prev(digest, last4 string, created, until time.Time) authv1alpha1.APIKeyValue {
	return authv1alpha1.APIKeyValue{Digest: digest, Last4: last4, State: authv1alpha1.APIKeyPrevious, CreatedAt: metav1.NewTime(created), ValidUntil: at(until)}
}

func holds(digest, last4 string) Secret {
	return Secret{Name: "billing-apikey", State: SecretHolds, Digest: digest, Last4: last4}
}

func readyWas(reason string) []metav1.Condition {
	status := metav1.ConditionFalse
	if reason == authv1alpha1.ReasonAPIKeyReady {
		status = metav1.ConditionTrue
	}
	return []metav1.Condition{{Type: authv1alpha1.ConditionReady, Status: status, Reason: reason}}
}

func overlap(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

type want struct {
	write   Write
	cause   string
	values  []authv1alpha1.APIKeyValue
	handled string
	ready   string // reason
	events  []string
	rotated bool
	requeue time.Time
	// mentions are words the Ready message must hold.
	mentions []string
}

func TestDecide(t *testing.T) {
	settled := authv1alpha1.JackAPIKeyStatus{Values: []authv1alpha1.APIKeyValue{cur("aa", "AAAA", t0)}, Conditions: readyWas(authv1alpha1.ReasonAPIKeyReady)}
	cases := map[string]struct {
		in   Input
		want want
	}{
		"a new key without a Secret asks for one to be created": {
			in:   Input{Secret: Secret{Name: "billing-apikey", State: SecretMissing}},
			want: want{write: WriteCreate, cause: authv1alpha1.ReasonKeyGenerated, ready: authv1alpha1.ReasonSecretMissing, values: []authv1alpha1.APIKeyValue{}},
		},
		"once the first value is written it becomes current and the key is ready": {
			in: Input{Secret: holds("aa", "AAAA"), Wrote: authv1alpha1.ReasonKeyGenerated},
			want: want{values: []authv1alpha1.APIKeyValue{cur("aa", "AAAA", now)}, ready: authv1alpha1.ReasonAPIKeyReady,
				events: []string{authv1alpha1.ReasonKeyGenerated}, mentions: []string{"...AAAA"}},
		},
		"crash after creating the Secret, before the status: the value is adopted": {
			in: Input{Secret: holds("aa", "AAAA")},
			want: want{values: []authv1alpha1.APIKeyValue{cur("aa", "AAAA", now)}, ready: authv1alpha1.ReasonAPIKeyReady,
				events: []string{authv1alpha1.ReasonKeyGenerated}},
		},
		"a settled key with nothing to do changes nothing": {
			in:   Input{Status: settled, Secret: holds("aa", "AAAA")},
			want: want{values: settled.Values, ready: authv1alpha1.ReasonAPIKeyReady},
		},
		"a new rotate request asks for a new value, the key staying ready meanwhile": {
			in:   Input{RotateRequest: "r1", Status: settled, Secret: holds("aa", "AAAA")},
			want: want{write: WriteUpdate, cause: authv1alpha1.ReasonKeyRotated, values: settled.Values, ready: authv1alpha1.ReasonAPIKeyReady},
		},
		"a rotate request already handled does not rotate again": {
			in:   Input{RotateRequest: "r1", Status: func() authv1alpha1.JackAPIKeyStatus { s := settled; s.LastRotateRequest = "r1"; return s }(), Secret: holds("aa", "AAAA")},
			want: want{values: settled.Values, handled: "r1", ready: authv1alpha1.ReasonAPIKeyReady},
		},
		"once the rotated value is written the old one is previous for the overlap": {
			in: Input{Spec: authv1alpha1.JackAPIKeySpec{RotationOverlap: overlap(time.Hour)}, RotateRequest: "r1", Status: settled,
				Secret: holds("bb", "BBBB"), Wrote: authv1alpha1.ReasonKeyRotated},
			want: want{values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", now), prev("aa", "AAAA", t0, now.Add(time.Hour))}, handled: "r1",
				ready: authv1alpha1.ReasonAPIKeyReady, events: []string{authv1alpha1.ReasonKeyRotated}, rotated: true, requeue: now.Add(time.Hour),
				mentions: []string{"...BBBB", "...AAAA works until"}},
		},
		"crash after writing the rotated value, before the status: the rotation is finished, not repeated": {
			in: Input{RotateRequest: "r1", Status: settled, Secret: holds("bb", "BBBB")},
			want: want{values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", now), prev("aa", "AAAA", t0, now.Add(DefaultOverlap))}, handled: "r1",
				ready: authv1alpha1.ReasonAPIKeyReady, events: []string{authv1alpha1.ReasonKeyRotated}, rotated: true, requeue: now.Add(DefaultOverlap)},
		},
		"a rotation with rotationOverlap 0s drops the old value at once": {
			in: Input{Spec: authv1alpha1.JackAPIKeySpec{RotationOverlap: overlap(0)}, RotateRequest: "r1", Status: settled, Secret: holds("bb", "BBBB"), Wrote: authv1alpha1.ReasonKeyRotated},
			want: want{values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", now)}, handled: "r1", ready: authv1alpha1.ReasonAPIKeyReady,
				events: []string{authv1alpha1.ReasonKeyRotated}, rotated: true},
		},
		"a rotation during an overlap ends the older previous value at once": {
			in: Input{RotateRequest: "r2", Status: authv1alpha1.JackAPIKeyStatus{LastRotateRequest: "r1",
				Values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", t0), prev("aa", "AAAA", t0, now.Add(time.Minute))}}, Secret: holds("cc", "CCCC"), Wrote: authv1alpha1.ReasonKeyRotated},
			want: want{values: []authv1alpha1.APIKeyValue{cur("cc", "CCCC", now), prev("bb", "BBBB", t0, now.Add(DefaultOverlap))}, handled: "r2",
				ready: authv1alpha1.ReasonAPIKeyReady, events: []string{authv1alpha1.ReasonKeyRotated}, rotated: true, requeue: now.Add(DefaultOverlap)},
		},
		"a previous value is kept until its overlap ends, and looked at again then": {
			in: Input{Status: authv1alpha1.JackAPIKeyStatus{Values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", t0), prev("aa", "AAAA", t0, now.Add(time.Second))},
				Conditions: readyWas(authv1alpha1.ReasonAPIKeyReady)}, Secret: holds("bb", "BBBB")},
			want: want{values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", t0), prev("aa", "AAAA", t0, now.Add(time.Second))}, ready: authv1alpha1.ReasonAPIKeyReady, requeue: now.Add(time.Second)},
		},
		"a previous value past its overlap is dropped": {
			in: Input{Status: authv1alpha1.JackAPIKeyStatus{Values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", t0), prev("aa", "AAAA", t0, now)},
				Conditions: readyWas(authv1alpha1.ReasonAPIKeyReady)}, Secret: holds("bb", "BBBB")},
			want: want{values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", t0)}, ready: authv1alpha1.ReasonAPIKeyReady, events: []string{authv1alpha1.ReasonPreviousValueDropped}},
		},
		"a deleted Secret is recreated with a new value": {
			in:   Input{Status: settled, Secret: Secret{Name: "billing-apikey", State: SecretMissing}},
			want: want{write: WriteCreate, cause: authv1alpha1.ReasonKeyReplaced, values: settled.Values, ready: authv1alpha1.ReasonSecretMissing},
		},
		"once recreated, the lost value works for the overlap so its consumers can move": {
			in: Input{Status: settled, Secret: holds("bb", "BBBB"), Wrote: authv1alpha1.ReasonKeyReplaced},
			want: want{values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", now), prev("aa", "AAAA", t0, now.Add(DefaultOverlap))},
				ready: authv1alpha1.ReasonAPIKeyReady, events: []string{authv1alpha1.ReasonKeyReplaced}, requeue: now.Add(DefaultOverlap)},
		},
		"a Secret whose value was emptied or mangled gets a new value": {
			in:   Input{Status: settled, Secret: Secret{Name: "billing-apikey", State: SecretUnusable}},
			want: want{write: WriteUpdate, cause: authv1alpha1.ReasonKeyReplaced, values: settled.Values, ready: authv1alpha1.ReasonSecretMissing},
		},
		"a valid value written into the Secret by hand is adopted (the same as an interrupted write)": {
			in: Input{Status: settled, Secret: holds("bb", "BBBB")},
			want: want{values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", now), prev("aa", "AAAA", t0, now.Add(DefaultOverlap))},
				ready: authv1alpha1.ReasonAPIKeyReady, events: []string{authv1alpha1.ReasonKeyReplaced}, requeue: now.Add(DefaultOverlap)},
		},
		"the previous value put back by hand becomes current again, keeping its age": {
			in: Input{Status: authv1alpha1.JackAPIKeyStatus{Values: []authv1alpha1.APIKeyValue{cur("bb", "BBBB", now.Add(-time.Hour)), prev("aa", "AAAA", t0, now.Add(time.Hour))},
				Conditions: readyWas(authv1alpha1.ReasonAPIKeyReady)}, Secret: holds("aa", "AAAA")},
			want: want{values: []authv1alpha1.APIKeyValue{cur("aa", "AAAA", t0), prev("bb", "BBBB", now.Add(-time.Hour), now.Add(DefaultOverlap))},
				ready: authv1alpha1.ReasonAPIKeyReady, events: []string{authv1alpha1.ReasonKeyReplaced}, requeue: now.Add(DefaultOverlap)},
		},
		"a Secret that is not the key's is left alone and the key is not ready": {
			in: Input{Status: settled, Secret: Secret{Name: "billing-apikey", State: SecretConflict}},
			want: want{values: settled.Values, ready: authv1alpha1.ReasonSecretConflict, events: []string{authv1alpha1.ReasonSecretConflict},
				mentions: []string{"billing-apikey", "not this JackAPIKey's"}},
		},
		"a disabled key keeps its values and says why it does not work": {
			in:   Input{Spec: authv1alpha1.JackAPIKeySpec{Disabled: true}, Status: settled, Secret: holds("aa", "AAAA")},
			want: want{values: settled.Values, ready: authv1alpha1.ReasonAPIKeyDisabled, events: []string{authv1alpha1.ReasonAPIKeyDisabled}, mentions: []string{"spec.disabled"}},
		},
		"a disabled key reports the event once": {
			in: Input{Spec: authv1alpha1.JackAPIKeySpec{Disabled: true}, Status: func() authv1alpha1.JackAPIKeyStatus {
				s := settled
				s.Conditions = readyWas(authv1alpha1.ReasonAPIKeyDisabled)
				return s
			}(), Secret: holds("aa", "AAAA")},
			want: want{values: settled.Values, ready: authv1alpha1.ReasonAPIKeyDisabled},
		},
		"a key enabled again works again": {
			in: Input{Status: func() authv1alpha1.JackAPIKeyStatus {
				s := settled
				s.Conditions = readyWas(authv1alpha1.ReasonAPIKeyDisabled)
				return s
			}(), Secret: holds("aa", "AAAA")},
			want: want{values: settled.Values, ready: authv1alpha1.ReasonAPIKeyReady, events: []string{authv1alpha1.ReasonAPIKeyReady}},
		},
		"a disabled key still rotates, so its consumers can be given a new value before it is enabled": {
			in:   Input{Spec: authv1alpha1.JackAPIKeySpec{Disabled: true}, RotateRequest: "r1", Status: settled, Secret: holds("aa", "AAAA")},
			want: want{write: WriteUpdate, cause: authv1alpha1.ReasonKeyRotated, values: settled.Values, ready: authv1alpha1.ReasonAPIKeyDisabled},
		},
		"a key expiring later is ready and looked at again when it expires": {
			in:   Input{Spec: authv1alpha1.JackAPIKeySpec{Expires: at(now.Add(time.Minute))}, Status: settled, Secret: holds("aa", "AAAA")},
			want: want{values: settled.Values, ready: authv1alpha1.ReasonAPIKeyReady, requeue: now.Add(time.Minute), mentions: []string{"expires at"}},
		},
		"a key at its expiry is expired": {
			in:   Input{Spec: authv1alpha1.JackAPIKeySpec{Expires: at(now)}, Status: settled, Secret: holds("aa", "AAAA")},
			want: want{values: settled.Values, ready: authv1alpha1.ReasonAPIKeyExpired, events: []string{authv1alpha1.ReasonAPIKeyExpired}, mentions: []string{"spec.expires"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := tc.in
			in.Now = now
			if in.Secret.Name == "" {
				in.Secret.Name = "billing-apikey"
			}
			got := Decide(in)
			w := tc.want
			if got.Write != w.write || got.Cause != w.cause {
				t.Errorf("write %v (cause %q), want %v (cause %q)", got.Write, got.Cause, w.write, w.cause)
			}
			if !valuesEqual(got.Values, w.values) {
				t.Errorf("values\n  %s\nwant\n  %s", show(got.Values), show(w.values))
			}
			if got.LastRotateRequest != w.handled {
				t.Errorf("lastRotateRequest %q, want %q", got.LastRotateRequest, w.handled)
			}
			if got.Ready.Reason != w.ready || got.Ready.Type != authv1alpha1.ConditionReady ||
				(got.Ready.Status == metav1.ConditionTrue) != (w.ready == authv1alpha1.ReasonAPIKeyReady) {
				t.Errorf("Ready %s/%s (%q), want reason %s", got.Ready.Status, got.Ready.Reason, got.Ready.Message, w.ready)
			}
			for _, m := range w.mentions {
				if !strings.Contains(got.Ready.Message, m) {
					t.Errorf("the Ready message %q does not mention %q", got.Ready.Message, m)
				}
			}
			var reasons []string
			for _, e := range got.Events {
				reasons = append(reasons, e.Reason)
			}
			if strings.Join(reasons, ",") != strings.Join(w.events, ",") {
				t.Errorf("events %v, want %v", reasons, w.events)
			}
			if got.Rotated != w.rotated {
				t.Errorf("rotated %v, want %v", got.Rotated, w.rotated)
			}
			if !got.Requeue.Equal(w.requeue) {
				t.Errorf("requeue at %s, want %s", got.Requeue, w.requeue)
			}
		})
	}
}

// TestDecidingAgainAfterTheWriteIsStable: whatever the first decision asked
// for, writing it and deciding again, then once more, settles: the second
// call (what a later reconcile sees) asks for nothing and reports nothing new.
func TestDecidingAgainAfterTheWriteIsStable(t *testing.T) {
	start := Input{Spec: authv1alpha1.JackAPIKeySpec{RotationOverlap: overlap(time.Hour)}, Now: now,
		Status: authv1alpha1.JackAPIKeyStatus{Values: []authv1alpha1.APIKeyValue{cur("aa", "AAAA", t0)}, Conditions: readyWas(authv1alpha1.ReasonAPIKeyReady)}}
	for name, in := range map[string]Input{
		"creation": {Now: now, Secret: Secret{Name: "k-apikey", State: SecretMissing}},
		"rotation": func() Input { i := start; i.RotateRequest = "r"; i.Secret = holds("aa", "AAAA"); return i }(),
		"repair":   func() Input { i := start; i.Secret = Secret{Name: "k-apikey", State: SecretUnusable}; return i }(),
	} {
		t.Run(name, func(t *testing.T) {
			first := Decide(in)
			if first.Write == WriteNone {
				t.Fatal("the first decision wrote nothing")
			}
			in.Secret = holds("new", "NNNN")
			in.Wrote = first.Cause
			second := Decide(in)
			if second.Write != WriteNone || len(second.Events) == 0 {
				t.Fatalf("after the write: write %v, events %v", second.Write, second.Events)
			}
			if second.Events[0].Reason != first.Cause {
				t.Errorf("the event after the write is %s, the write's cause %s", second.Events[0].Reason, first.Cause)
			}
			in.Status.Values, in.Status.LastRotateRequest, in.Wrote = second.Values, second.LastRotateRequest, ""
			in.Status.Conditions = []metav1.Condition{second.Ready}
			third := Decide(in)
			if third.Write != WriteNone || len(third.Events) != 0 || !valuesEqual(third.Values, second.Values) {
				t.Errorf("a later reconcile does more: write %v, events %v, values %s", third.Write, third.Events, show(third.Values))
			}
		})
	}
}

func TestLastUsedOnlyMovesForward(t *testing.T) {
	hour := t0.Truncate(time.Hour)
	for name, tc := range map[string]struct {
		status  *metav1.Time
		seen    time.Time
		want    *metav1.Time
		changed bool
	}{
		"never used":                       {},
		"first use":                        {seen: hour.Add(10 * time.Minute), want: at(hour), changed: true},
		"a later hour":                     {status: at(hour), seen: hour.Add(time.Hour), want: at(hour.Add(time.Hour)), changed: true},
		"the same hour writes nothing":     {status: at(hour), seen: hour, want: at(hour)},
		"an older report writes nothing":   {status: at(hour), seen: hour.Add(-time.Hour), want: at(hour)},
		"no report keeps what status says": {status: at(hour), want: at(hour)},
	} {
		t.Run(name, func(t *testing.T) {
			got, changed := LastUsed(tc.status, tc.seen)
			if changed != tc.changed || (got == nil) != (tc.want == nil) || (got != nil && !got.Equal(tc.want)) {
				t.Errorf("LastUsed = %v, %v; want %v, %v", got, changed, tc.want, tc.changed)
			}
		})
	}
}

func valuesEqual(a, b []authv1alpha1.APIKeyValue) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Digest != y.Digest || x.Last4 != y.Last4 || x.State != y.State || !x.CreatedAt.Equal(&y.CreatedAt) ||
			(x.ValidUntil == nil) != (y.ValidUntil == nil) || (x.ValidUntil != nil && !x.ValidUntil.Equal(y.ValidUntil)) {
			return false
		}
	}
	return true
}

func show(values []authv1alpha1.APIKeyValue) string {
	var parts []string
	for _, v := range values {
		s := string(v.State) + " " + v.Digest + " created " + v.CreatedAt.UTC().Format(time.RFC3339)
		if v.ValidUntil != nil {
			s += " until " + v.ValidUntil.UTC().Format(time.RFC3339)
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
