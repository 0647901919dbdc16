package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// signingMaxPropagation is how soon every sidecar must act on a promotion
// or a revocation written to the SigningKey (the bound).
const signingMaxPropagation = time.Second

// rotation is a namespace whose sidecars' mounted key ring holds key A,
// active, and key B, published after it: a ring in the middle of a
// rotation, before the operator promotes B.
type rotation struct {
	*jackNamespace
	ring     *keyring.Ring
	a, b     string
	sidecars []*sidecar
}

// newRotation lays the ring out in the namespace's key volume and starts two
// sidecars on it. The operator keeps its own ring in its Secret, with other
// key ids; this ring is the test's, so that the test decides what the
// kubelet has brought, and writes the SigningKey's status as the operator
// would on a promotion.
func newRotation(t *testing.T) *rotation {
	t.Helper()
	n := newJackNamespace(t)
	ctx := context.Background()
	// Let the operator's first reconcile finish: its status write would
	// otherwise overwrite the test's.
	var key authv1alpha1.SigningKey
	poll.True(t, 15*time.Second, "the operator to write the SigningKey's status", func() bool {
		return n.c.k8s.Get(ctx, types.NamespacedName{Namespace: n.name, Name: "jack"}, &key) == nil &&
			key.Status.ActiveKeyID != "" && key.Status.ObservedGeneration == key.Generation
	})

	now := time.Now().UTC().Truncate(time.Second)
	r := &rotation{jackNamespace: n, ring: &keyring.Ring{TokenTTL: time.Hour}, a: "20261127-015500-aaaa", b: "20261127-020000-bbbb"}
	for _, k := range []struct {
		id        string
		state     jack.KeyState
		published time.Time
	}{{r.a, jack.KeyActive, now.Add(-time.Hour)}, {r.b, jack.KeyPublished, now}} {
		key, err := keyring.Generate(jack.AlgorithmHS256, k.id)
		must(t, err)
		key.State, key.PublishedAt, key.MaxTokenTTL = k.state, k.published, time.Hour
		if k.state == jack.KeyActive {
			key.ActivatedAt = k.published
		}
		r.ring.Keys = append(r.ring.Keys, key)
	}
	data, err := r.ring.Marshal()
	must(t, err)
	n.keys.Update(map[string][]byte{jack.SecretKeyKeyRing: data})
	r.sidecars = []*sidecar{n.startSidecar(n.apiHost(), t.TempDir()), n.startSidecar(n.apiHost(), t.TempDir())}
	for i, s := range r.sidecars {
		if st, _ := s.state(); st.SigningKeyID != r.a || st.AnnouncedKeyID != key.Status.ActiveKeyID {
			t.Fatalf("sidecar %d starts with %s; want signing with %s, the operator's %s announced", i, describeState(st), r.a, key.Status.ActiveKeyID)
		}
		if kid := kidOf(t, loginToken(t, s, "sam@example.com", "first password of sam")); kid != r.a {
			t.Fatalf("sidecar %d signs a login with %s before any promotion; want %s", i, kid, r.a)
		}
	}
	return r
}

// patchSigningKey changes the SigningKey as the operator (status) or a
// user (spec) would.
func (r *rotation) patchSigningKey(status bool, patch string) {
	r.t.Helper()
	key := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: r.name}}
	p := client.RawPatch(types.MergePatchType, []byte(patch))
	if status {
		must(r.t, r.c.k8s.Status().Patch(context.Background(), key, p))
		return
	}
	must(r.t, r.c.k8s.Patch(context.Background(), key, p))
}

func TestEveryReplicaSignsWithThePromotedKeyBeforeTheKubeletBringsIt(t *testing.T) {
	r := newRotation(t)
	r.patchSigningKey(true, `{"status":{"activeKeyID":"`+r.b+`"}}`)
	// /state first, so that a poll costs no login (logins are throttled per
	// client); then a login, which is what a user would notice.
	poll.Within(t, signingMaxPropagation, "both replicas sign new logins with the promoted key", func() bool {
		for _, s := range r.sidecars {
			if st, _ := s.state(); st.SigningKeyID != r.b || st.AnnouncedKeyID != r.b {
				return false
			}
			if kidOf(t, loginToken(t, s, "sam@example.com", "first password of sam")) != r.b {
				return false
			}
		}
		return true
	})
	// The mounted ring still says A is active: this came by watching.
	st, body := r.sidecars[0].state()
	t.Logf("/state of a sidecar after the promotion: %s", body)
	if keyStates(st) != r.a+" Active, "+r.b+" Published" {
		t.Errorf("the ring file changed under the test: %s", keyStates(st))
	}
	if st.RevocationsResourceVersion == "" {
		t.Error("/state reports no revocations version, though the watch has listed them")
	}
	assertNoSecret(t, body, secretsOf(t, r.ring, nil))
	// A token of either key verifies at both: B was published everywhere.
	for _, s := range r.sidecars {
		byB := loginToken(t, s, "ada@example.com", "first password of ada")
		for _, other := range r.sidecars {
			if !verifies(other, byB) {
				t.Error("a token signed with the promoted key is refused by a replica")
			}
		}
	}
}

func TestAKeyRevokedInTheSpecIsRefusedEverywhereBeforeTheKubeletDropsIt(t *testing.T) {
	r := newRotation(t)
	// A token signed with B, as another replica would have after a
	// promotion, and one signed with A.
	sam := token.Subject{ID: r.userIDs["sam"], Email: "sam@example.com", Name: "sam", Role: jack.RoleStaff}
	byB, _, err := token.Sign(r.ring, r.ring.Find(r.b), sam, token.Session{}, time.Now())
	must(t, err)
	byA := loginToken(t, r.sidecars[0], "sam@example.com", "first password of sam")
	for _, s := range r.sidecars {
		if !verifies(s, byB) || !verifies(s, byA) {
			t.Fatal("before the revocation a replica refuses a token of a key in its ring")
		}
	}

	r.patchSigningKey(false, `{"spec":{"revokedKeyIDs":["`+r.b+`"]}}`)
	poll.Within(t, signingMaxPropagation, "both replicas refuse the token of the revoked key", func() bool {
		return !verifies(r.sidecars[0], byB) && !verifies(r.sidecars[1], byB)
	})
	for i, s := range r.sidecars {
		if resp := s.do("GET", "/auth/api/v1/tasks", bearer(byB), ""); resp.Status != http.StatusUnauthorized || resp.Body.Error.Code != "TOKEN_INVALID" {
			t.Errorf("sidecar %d answers the revoked key's token %d %s; want 401 TOKEN_INVALID", i, resp.Status, resp.Body.Error.Code)
		}
		if !verifies(s, byA) {
			t.Errorf("sidecar %d refuses a token of the key that was not revoked", i)
		}
		// The ring still holds B, published: it must never sign with it.
		if st, _ := s.state(); st.SigningKeyID == r.b {
			t.Errorf("sidecar %d would sign with the revoked key: %s", i, describeState(st))
		}
		if kid := kidOf(t, loginToken(t, s, "ada@example.com", "first password of ada")); kid == r.b {
			t.Errorf("sidecar %d signed a login with the revoked key", i)
		}
	}
}
