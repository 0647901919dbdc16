package keys

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

func TestRevokeWarningSaysWhoIsLoggedOut(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	active := authv1alpha1.KeyStatus{ID: "k2", State: jack.KeyActive, ActivatedAt: at(now.Add(-3 * time.Hour))}
	retired := authv1alpha1.KeyStatus{ID: "k1", State: jack.KeyRetired, ActivatedAt: at(now.Add(-30 * 24 * time.Hour)), RetiredAt: at(now.Add(-3 * time.Hour)), ExpiresAt: at(now.Add(21 * time.Hour))}
	published := authv1alpha1.KeyStatus{ID: "k3", State: jack.KeyPublished, PublishedAt: at(now.Add(-time.Minute))}
	key := func(keys ...authv1alpha1.KeyStatus) *authv1alpha1.SigningKey {
		return &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: "shop"}, Status: authv1alpha1.SigningKeyStatus{Keys: keys}}
	}
	for name, tc := range map[string]struct {
		key       *authv1alpha1.SigningKey
		revoke    authv1alpha1.KeyStatus
		users     int
		want, not []string
	}{
		"the active key, with no successor": {
			key: key(retired, active), revoke: active, users: 3,
			want: []string{"key k2 is the active key of SigningKey jack: it signed every token issued since 2026-11-27T09:00:00Z (3h ago)",
				"any of the 3 JackUsers of namespace shop who logged in or refreshed since then",
				"No key is published to take over", "refuse its tokens until it arrives", "kubectl jack key rotate jack --wait first", "API keys are not affected"},
		},
		"the active key, with a published successor": {
			key: key(active, published), revoke: active, users: -1,
			want: []string{"its users who logged in or refreshed since then", "Key k3, published 60s ago, signs in its place at once."},
			not:  []string{"No key is published"},
		},
		"a retired key": {
			key: key(retired, active), revoke: retired, users: 0,
			want: []string{"signed the tokens issued from 2026-10-28T12:00:00Z to 2026-11-27T09:00:00Z", "valid until 2026-11-28T09:00:00Z",
				"any of the 0 JackUsers of namespace shop who logged in or refreshed in that window and not since"},
		},
		"a published key": {
			key: key(active, published), revoke: published,
			want: []string{"has not signed a token yet, so nobody is logged out"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := RevokeWarning(tc.key, tc.revoke, tc.users, now)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("warning\n%s\nwithout %q", got, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("warning\n%s\nsays %q", got, n)
				}
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	ns := "keys-revoke"
	k := newSigningKey(t, ns, "jack", true)
	old := k.Status.ActiveKeyID
	var out bytes.Buffer

	err := Revoke(ctx, k8s, ns, "jack", "no-such-key", false, strings.NewReader("yes\n"), &out)
	if err == nil || !strings.Contains(err.Error(), `SigningKey jack has no key "no-such-key"; its keys are `+old+" (Active)") {
		t.Errorf("revoking an unknown key: %v", err)
	}

	out.Reset()
	err = Revoke(ctx, k8s, ns, "jack", old, false, strings.NewReader("y\n"), &out)
	if !errors.Is(err, ErrNotConfirmed) {
		t.Errorf("answering y: %v", err)
	}
	if !strings.Contains(out.String(), "WARNING: key "+old+" is the active key") || !strings.Contains(out.String(), `Type "yes" to revoke key `+old) {
		t.Errorf("the question was\n%s", out.String())
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil || len(k.Spec.RevokedKeyIDs) != 0 {
		t.Fatalf("after no: revokedKeyIDs %v, %v", k.Spec.RevokedKeyIDs, err)
	}

	out.Reset()
	if err := Revoke(ctx, k8s, ns, "jack", old, false, strings.NewReader("yes\n"), &out); err != nil {
		t.Fatalf("answering yes: %v\n%s", err, out.String())
	}
	poll.Until(t, 10*time.Second, "the operator drops the revoked key", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil {
			return err
		}
		if !slices.Contains(k.Spec.RevokedKeyIDs, old) {
			t.Fatalf("revokedKeyIDs is %v", k.Spec.RevokedKeyIDs)
		}
		if k.Status.ActiveKeyID == old || k.Status.ActiveKeyID == "" {
			return errors.New("the revoked key is still active")
		}
		if ks := findKey(k, old); ks == nil || ks.State != jack.KeyRevoked {
			return errors.New("status.keys does not show it Revoked")
		}
		return nil
	})

	out.Reset()
	if err := Revoke(ctx, k8s, ns, "jack", old, true, nil, &out); err != nil || !strings.Contains(out.String(), "already revoked") {
		t.Errorf("revoking it again: %q, %v", out.String(), err)
	}
	// --yes asks nothing, and a second revocation keeps the first.
	second := k.Status.ActiveKeyID
	out.Reset()
	if err := Revoke(ctx, k8s, ns, "jack", second, true, nil, &out); err != nil {
		t.Fatalf("revoking with yes: %v", err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil || !slices.Equal(k.Spec.RevokedKeyIDs, []string{old, second}) {
		t.Errorf("revokedKeyIDs is %v (%v), want both", k.Spec.RevokedKeyIDs, err)
	}
}
