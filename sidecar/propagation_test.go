package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/kubelettest"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// TestASidecarFrozenOnAnOldRingHoldsPromotionUntilItCatchesUp runs the
// operator and two real sidecar processes registered as ready pods; the
// kubelet (kubelettest) brings a rotated ring to one of them only. The new
// key waits past prepublish, the SigningKey names the other pod, and the
// key signs as soon as that pod's ring catches up.
func TestASidecarFrozenOnAnOldRingHoldsPromotionUntilItCatchesUp(t *testing.T) {
	n := newJackNamespace(t)
	ctx := context.Background()
	key := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: n.name}}
	must(t, n.c.k8s.Patch(ctx, key, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"rotation":{"prepublish":"10s"}}}`))))
	n.syncVolumes()
	frozen := kubelettest.NewVolume(t, filepath.Join(t.TempDir(), "frozen-keys"), n.secret("jack-jwt"))
	live := n.startSidecar(n.apiHost(), t.TempDir())
	stale := (&fixture{t: t, keys: frozen, dir: n.users}).start("--signing-key", "jack", "--api-credentials", n.creds,
		"--api-server", "https://"+n.apiHost(), "--revocations", filepath.Join(t.TempDir(), "revocations.jsonl"))
	n.registerPod("jack-live", live)
	n.registerPod("jack-frozen", stale)
	synced(t, live, stale)

	get := func() *authv1alpha1.SigningKey {
		var k authv1alpha1.SigningKey
		must(t, n.c.k8s.Get(ctx, types.NamespacedName{Namespace: n.name, Name: "jack"}, &k))
		return &k
	}
	poll.True(t, 15*time.Second, "the SigningKey to count both sidecars", func() bool { return get().Status.Propagation == "2/2" })
	before := get().Status.ActiveKeyID

	must(t, n.c.k8s.Patch(ctx, key, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+jack.AnnotationRotate+`":"1"}}}`))))
	var published string
	poll.True(t, 15*time.Second, "a key to be published", func() bool {
		for _, k := range get().Status.Keys {
			if k.State == jack.KeyPublished {
				published = k.ID
			}
		}
		return published != ""
	})
	n.syncVolumes() // the live sidecar's kubelet brings the ring; the frozen one's does not

	poll.Within(t, 30*time.Second, "the SigningKey to name the frozen sidecar past prepublish", func() bool {
		c := meta.FindStatusCondition(get().Status.Conditions, authv1alpha1.ConditionPropagated)
		return c != nil && c.Reason == authv1alpha1.ReasonSidecarsLagging && strings.Contains(c.Message, "jack-frozen")
	})
	if k := get(); k.Status.ActiveKeyID != before || k.Status.Propagation != "1/2" {
		t.Fatalf("while a sidecar lacks key %s: active key %s, propagation %s; want %s still signing, 1/2", published, k.Status.ActiveKeyID, k.Status.Propagation, before)
	}

	frozen.Update(n.secret("jack-jwt"))
	poll.Within(t, 10*time.Second, "the key to sign once the frozen sidecar has it", func() bool { return get().Status.ActiveKeyID == published })
	// Both sidecars must also switch to signing with it, which the operator
	// reads again each second. Once in a loaded make test this took more
	// than 10 s; the error says what the condition said meanwhile.
	poll.Until(t, 20*time.Second, "the rotation to be Propagated", func() error {
		k := get()
		if c := meta.FindStatusCondition(k.Status.Conditions, authv1alpha1.ConditionPropagated); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Propagated is %+v (propagation %s, active key %s)", c, k.Status.Propagation, k.Status.ActiveKeyID)
		}
		return nil
	})
}
