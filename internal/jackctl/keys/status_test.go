package keys

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

func at(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }

func TestWriteStatusPrintsTheRingAsATable(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ready := metav1.Condition{Type: authv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: authv1alpha1.ReasonKeyActive}
	propagated := metav1.Condition{Type: authv1alpha1.ConditionPropagated, Status: metav1.ConditionTrue, Reason: authv1alpha1.ReasonPropagated}
	for name, tc := range map[string]struct {
		key  authv1alpha1.SigningKey
		want string
	}{
		"a ring at rest with a retired key": {
			key: authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack"}, Status: authv1alpha1.SigningKeyStatus{
				ActiveKeyID: "k2", Sidecars: ptr.To[int32](2), Propagation: "2/2",
				NextRotationTime: at(now.Add(29 * day)),
				Conditions:       []metav1.Condition{ready, propagated},
				Keys: []authv1alpha1.KeyStatus{
					{ID: "k1", State: jack.KeyRetired, Algorithm: jack.AlgorithmHS256, PublishedAt: at(now.Add(-31 * day)), ActivatedAt: at(now.Add(-31 * day)),
						RetiredAt: at(now.Add(-time.Hour)), ExpiresAt: at(now.Add(23 * time.Hour)), Sidecars: ptr.To[int32](2)},
					{ID: "k2", State: jack.KeyActive, Algorithm: jack.AlgorithmHS256, PublishedAt: at(now.Add(-time.Hour - 5*time.Minute)), ActivatedAt: at(now.Add(-time.Hour)), Sidecars: ptr.To[int32](2)},
				},
			}},
			want: `SigningKey jack: Ready True, Propagated True (2/2 sidecars hold the newest key), active key k2, next rotation in 29d
KEY ID   STATE     ALGORITHM   AGE   ACTIVATED   EXPIRES   SIDECARS
k1       Retired   HS256       31d   31d ago     in 23h    2/2
k2       Active    HS256       65m   60m ago     -         2/2
`,
		},
		"a rotation held by a lagging sidecar": {
			key: authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack"}, Status: authv1alpha1.SigningKeyStatus{
				ActiveKeyID: "k2", Sidecars: ptr.To[int32](2), Propagation: "1/2", NextRotationTime: at(now.Add(-30 * time.Second)),
				Conditions: []metav1.Condition{ready, {Type: authv1alpha1.ConditionPropagated, Status: metav1.ConditionFalse, Reason: authv1alpha1.ReasonSidecarsLagging,
					Message: "key k3 waits for sidecars that have not loaded it: jack-b (1/2 hold it)"}},
				Keys: []authv1alpha1.KeyStatus{
					{ID: "k2", State: jack.KeyActive, Algorithm: jack.AlgorithmHS256, PublishedAt: at(now.Add(-2 * day)), ActivatedAt: at(now.Add(-2 * day)), Sidecars: ptr.To[int32](2)},
					{ID: "k3", State: jack.KeyPublished, Algorithm: jack.AlgorithmES256, PublishedAt: at(now.Add(-40 * time.Second)), ActivatedAt: at(now.Add(-30 * time.Second)), Sidecars: ptr.To[int32](1)},
				},
			}},
			want: `SigningKey jack: Ready True, Propagated False (1/2 sidecars hold the newest key), active key k2, next rotation due 30s ago
  Propagated False (SidecarsLagging): key k3 waits for sidecars that have not loaded it: jack-b (1/2 hold it)
KEY ID   STATE       ALGORITHM   AGE   ACTIVATED   EXPIRES   SIDECARS
k2       Active      HS256       2d    2d ago      -         2/2
k3       Published   ES256       40s   30s ago     -         1/2
`,
		},
		"a legacy key, a revoked key and a published key in the future": {
			key: authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Generation: 3}, Status: authv1alpha1.SigningKeyStatus{
				ActiveKeyID: "k2", ObservedGeneration: 2, NextRotationTime: at(now.Add(4 * time.Minute)),
				Conditions: []metav1.Condition{ready},
				Keys: []authv1alpha1.KeyStatus{
					{ID: "legacy", State: jack.KeyRetired, Legacy: true, Algorithm: jack.AlgorithmHS256, PublishedAt: at(now.Add(-time.Hour)), ExpiresAt: at(now.Add(time.Hour))},
					{ID: "k2", State: jack.KeyActive, Algorithm: jack.AlgorithmHS256, PublishedAt: at(now.Add(-time.Hour)), ActivatedAt: at(now.Add(-time.Hour))},
					{ID: "k3", State: jack.KeyPublished, Algorithm: jack.AlgorithmHS256, PublishedAt: at(now.Add(-time.Minute)), ActivatedAt: at(now.Add(4 * time.Minute))},
					{ID: "k0", State: jack.KeyRevoked, Algorithm: jack.AlgorithmHS256, PublishedAt: at(now.Add(-3 * day)), ActivatedAt: at(now.Add(-3 * day))},
				},
			}},
			want: `SigningKey jack: Ready True, Propagated Unknown, active key k2, next rotation in 4m
  the status describes generation 2 of 3: the operator has not acted on the latest change yet
KEY ID   STATE              ALGORITHM   AGE   ACTIVATED   EXPIRES   SIDECARS
legacy   Retired (legacy)   HS256       60m   -           in 60m    -
k2       Active             HS256       60m   60m ago     -         -
k3       Published          HS256       60s   in 4m       -         -
k0       Revoked            HS256       3d    3d ago      revoked   -
`,
		},
		"a SigningKey the operator has not seen": {
			key:  authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "new"}},
			want: "SigningKey new: Ready Unknown, Propagated Unknown\n  no key yet: the operator has not made the ring (is it running? kubectl jack doctor)\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteStatus(&out, &tc.key, now); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("printed\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}

func TestStatusReadsTheLiveSigningKeys(t *testing.T) {
	ctx := context.Background()
	ns := "keys-status"
	a := newSigningKey(t, ns, "alpha", true)
	newSigningKey(t, ns, "beta", true)

	var out bytes.Buffer
	if err := Status(ctx, k8s, ns, "alpha", time.Now(), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"SigningKey alpha: Ready True, Propagated True (0/0 sidecars hold the newest key), active key " + a.Status.ActiveKeyID,
		"next rotation in 29d", "KEY ID", a.Status.ActiveKeyID + "   Active   HS256"} {
		if !strings.Contains(got, want) {
			t.Errorf("key status alpha printed\n%s\nwithout %q", got, want)
		}
	}
	if strings.Contains(got, "beta") {
		t.Errorf("key status alpha printed beta too:\n%s", got)
	}

	out.Reset()
	if err := Status(ctx, k8s, ns, "", time.Now(), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "SigningKey alpha:") || !strings.Contains(got, "\n\nSigningKey beta:") {
		t.Errorf("key status without a name printed\n%s\nnot alpha then beta", got)
	}

	out.Reset()
	if err := Status(ctx, k8s, "default", "", time.Now(), &out); err != nil || out.String() != "No SigningKeys found in default namespace.\n" {
		t.Errorf("an empty namespace: %q, %v", out.String(), err)
	}
	if err := Status(ctx, k8s, ns, "gamma", time.Now(), &out); err == nil || !strings.Contains(err.Error(), `"gamma" not found`) {
		t.Errorf("a missing SigningKey: %v", err)
	}
}
