//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// rotationsToRun is how many forced rotations the journey makes under
// traffic: JACK_E2E_ROTATIONS, 2 unless set (make soak-rotation sets 10).
func rotationsToRun(t *testing.T) int {
	n := 2
	if v := os.Getenv("JACK_E2E_ROTATIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("JACK_E2E_ROTATIONS=%q is not a positive number", v)
		}
	}
	return n
}

// rotation forces rotations as a platform engineer would, one after the
// other — `kubectl jack key rotate jack --wait`, which exits 0 once the new
// key signs on every replica — while a client logs in at one replica and
// uses its tokens at both: not one valid token may be refused, the new key
// may not sign before every sidecar holds it, and a rotation ends when the
// kubelet has brought the ring everywhere (past the 30 s prepublish floor),
// not after a fixed wait.
func (j *journey) rotation(t *testing.T) {
	svc := serviceAddr(t)
	old := j.tokens["ada"]
	if before := signingKey(t).Status.ActiveKeyID; kid(t, old) != before {
		t.Fatalf("ada's token has kid %s, the active key is %s", kid(t, old), before)
	}
	n := rotationsToRun(t)
	addrs := []string{sidecarAddr(j.pods[0]), sidecarAddr(j.pods[1])}
	traffic := startCrossTraffic(addrs, "ada@example.com", users[0].password, 2*time.Second, time.Duration(n)*6*time.Minute)
	var took []time.Duration
	for i := range n {
		before := signingKey(t).Status.ActiveKeyID
		start := time.Now()
		out := j.rotateAndWatch(t, i+1, before)
		took = append(took, time.Since(start))
		key := signingKey(t)
		published := key.Status.ActiveKeyID
		if published == before {
			t.Fatalf("rotation %d: kubectl jack key rotate --wait exited 0, and key %s still signs:\n%s", i+1, before, out)
		}
		if !meta.IsStatusConditionTrue(key.Status.Conditions, authv1alpha1.ConditionPropagated) {
			t.Errorf("rotation %d: kubectl jack key rotate --wait exited 0 before the SigningKey is Propagated:\n%s", i+1, out)
		}
		if !strings.Contains(out, "key "+published+" signs") {
			t.Errorf("rotation %d: the plugin's output does not name key %s as signing:\n%s", i+1, published, out)
		}
		t.Logf("rotation %d: key %s active on every replica after %s (status: %s sidecars, Propagated); kubectl jack said:\n%s",
			i+1, published, took[i].Round(time.Second), key.Status.Propagation, out)
		fresh := c.login(t, svc, "ada@example.com", users[0].password).session(t).Token
		if kid(t, fresh) != published {
			t.Errorf("a token issued after rotation %d has kid %s, want %s", i+1, kid(t, fresh), published)
		}
		j.tokens["ada"] = fresh
	}
	logins, verified, refused := traffic.end()
	slices.Sort(took)
	t.Logf("%d rotations under traffic: active everywhere after min %s, median %s, max %s; %d logins, %d cross-replica verifications, %d refused",
		n, took[0].Round(time.Second), took[len(took)/2].Round(time.Second), took[len(took)-1].Round(time.Second), logins, verified, len(refused))
	for _, r := range refused {
		t.Errorf("during the rotations: %s", r)
	}
	if logins == 0 || verified == 0 {
		t.Errorf("the traffic made %d logins and %d verifications; it did not run", logins, verified)
	}
	for _, p := range j.pods {
		if !verifies(t, sidecarAddr(p), old) || !verifies(t, sidecarAddr(p), j.tokens["ada"]) {
			t.Errorf("pod %s refuses a token from before or after the rotations", p.Name)
		}
	}
}

// rotateAndWatch runs kubectl jack key rotate jack --wait and, while it
// waits, checks that no key other than before signs until every pod has
// loaded it. It returns the plugin's output once it exited 0.
func (j *journey) rotateAndWatch(t *testing.T, i int, before string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.root, "bin", "kubectl-jack"), "--kubeconfig", c.kubeconfig,
		"-n", shop, "key", "rotate", "jack", "--wait", "--timeout", "6m")
	var out bytes.Buffer // one writer for both: exec calls it from one goroutine at a time
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("kubectl jack key rotate: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	checked := map[string]bool{before: true}
	for {
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("rotation %d: kubectl jack key rotate jack --wait: %v\n%s", i, err, out.String())
			}
			return out.String()
		case <-time.After(200 * time.Millisecond):
		}
		active := signingKey(t).Status.ActiveKeyID
		if checked[active] {
			continue
		}
		checked[active] = true
		for _, p := range j.pods {
			if _, ok := loadedKeys(t, p)[active]; !ok {
				t.Errorf("rotation %d: key %s signs although pod %s has not loaded it", i, active, p.Name)
			}
		}
	}
}
