package keys

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

func TestRotateValuesAreNeverReused(t *testing.T) {
	now := time.Date(2026, 11, 27, 2, 9, 49, 0, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		v, err := RotateValue(now)
		if err != nil {
			t.Fatal(err)
		}
		if seen[v] {
			t.Fatalf("RotateValue gave %q twice in the same second", v)
		}
		seen[v] = true
		if !strings.HasPrefix(v, "20261127T020949Z-") {
			t.Fatalf("RotateValue(%s) = %q, which does not say when", now, v)
		}
	}
}

// A rotation with --wait finishes once the new key signs everywhere, and a
// second one right after it does too, with yet another key.
func TestRotateWaitSucceedsTwiceInARow(t *testing.T) {
	ctx := context.Background()
	ns := "keys-rotate"
	k := newSigningKey(t, ns, "jack", true)
	// One ready sidecar that loads every key the moment it is published.
	fakeReader.set(newSidecarPod(t, ns, "jack-0", "jack", "10.0.0.10"), holding(t, ns, "jack", func(authv1alpha1.KeyStatus) bool { return true }))

	seen := map[string]bool{k.Status.ActiveKeyID: true}
	var values []string
	for i := range 2 {
		var out bytes.Buffer
		start := time.Now()
		if err := Rotate(ctx, k8s, ns, "jack", true, time.Minute, &out); err != nil {
			t.Fatalf("rotation %d: %v\nprinted:\n%s", i+1, err, out.String())
		}
		t.Logf("rotation %d took %s:\n%s", i+1, time.Since(start).Round(time.Millisecond), out.String())
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil {
			t.Fatal(err)
		}
		if seen[k.Status.ActiveKeyID] {
			t.Fatalf("rotation %d returned with key %s active, which was active before", i+1, k.Status.ActiveKeyID)
		}
		seen[k.Status.ActiveKeyID] = true
		if k.Status.Propagation != "1/1" {
			t.Errorf("rotation %d returned with propagation %q", i+1, k.Status.Propagation)
		}
		for _, want := range []string{"annotated " + jack.AnnotationRotate + "=", "key " + k.Status.ActiveKeyID + " is published", "key " + k.Status.ActiveKeyID + " signs, and every ready sidecar holds it (1/1)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("rotation %d printed\n%s\nwithout %q", i+1, out.String(), want)
			}
		}
		values = append(values, k.Annotations[jack.AnnotationRotate])
	}
	if values[0] == values[1] {
		t.Errorf("both rotations used %s=%s", jack.AnnotationRotate, values[0])
	}
}

// A rotation held back by a sidecar that has not loaded the new key times
// out naming it; once it catches up, a second rotate (satisfied by the key
// already published) returns as soon as the key signs.
func TestRotateWaitNamesTheLaggingSidecar(t *testing.T) {
	ctx := context.Background()
	ns := "keys-lag"
	newSigningKey(t, ns, "jack", true)
	addr := newSidecarPod(t, ns, "jack-stuck", "jack", "10.0.0.20")
	fakeReader.set(addr, holding(t, ns, "jack", func(ks authv1alpha1.KeyStatus) bool { return ks.State != jack.KeyPublished }))

	var out bytes.Buffer
	err := Rotate(ctx, k8s, ns, "jack", true, 15*time.Second, &out)
	if err == nil {
		t.Fatalf("a rotation held by a lagging sidecar returned without an error; printed:\n%s", out.String())
	}
	for _, want := range []string{"did not finish within 15s", "is published, not yet signing", authv1alpha1.ReasonSidecarsLagging, "jack-stuck"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the timeout says %q, without %q", err, want)
		}
	}
	if !strings.Contains(out.String(), "Propagated False (SidecarsLagging)") {
		t.Errorf("the progress lines do not show the hold:\n%s", out.String())
	}

	fakeReader.set(addr, holding(t, ns, "jack", func(authv1alpha1.KeyStatus) bool { return true }))
	out.Reset()
	if err := Rotate(ctx, k8s, ns, "jack", true, 30*time.Second, &out); err != nil {
		t.Fatalf("once the sidecar caught up: %v\nprinted:\n%s", err, out.String())
	}
}

func TestRotateWithoutAnOperatorSaysSo(t *testing.T) {
	ctx := context.Background()
	newSigningKey(t, unwatched, "orphan", false)
	var out bytes.Buffer
	err := Rotate(ctx, k8s, unwatched, "orphan", false, 2*time.Second, &out)
	if err == nil || !strings.Contains(err.Error(), "the operator has not acted on "+jack.AnnotationRotate) || !strings.Contains(err.Error(), "kubectl jack doctor") {
		t.Errorf("a rotation nobody acts on: %v", err)
	}
	if err := Rotate(ctx, k8s, unwatched, "nobody", false, time.Second, &out); err == nil || !strings.Contains(err.Error(), `"nobody" not found`) {
		t.Errorf("rotating a SigningKey that does not exist: %v", err)
	}
}
