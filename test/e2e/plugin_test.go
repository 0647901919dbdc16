//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// plugin runs the kubectl plugin (bin/kubectl-jack, which hack/e2e.sh
// builds) as a platform engineer would, on the running app: inject explain
// gives the operator's own decision for the Deployment and for one of its
// pods, and doctor finds nothing wrong with the install or the namespace.
func (j *journey) plugin(t *testing.T) {
	out := c.run(t, "kubectl-jack", "-n", shop, "inject", "explain", "deployment/jack-echo")
	t.Logf("kubectl jack inject explain deployment/jack-echo:\n%s", out)
	if !strings.Contains(out, "Result") || !strings.Contains(out, "will inject") {
		t.Errorf("explain of the Deployment does not say its pods get the sidecar:\n%s", out)
	}
	out = c.run(t, "kubectl-jack", "-n", shop, "inject", "explain", "pod/"+j.pods[0].Name)
	if !strings.Contains(out, "already injected by operator version") {
		t.Errorf("explain of an injected pod does not say it is injected:\n%s", out)
	}
	// doctor exits non-zero on a problem; the SigningKey may still be
	// settling right after the app came up.
	var last string
	poll.Within(t, 2*time.Minute, "kubectl jack doctor finds no problem", func() bool {
		var err error
		last, err = c.try("kubectl-jack", "-n", shop, "doctor")
		return err == nil
	})
	t.Logf("kubectl jack doctor:\n%s", last)
	if strings.Contains(last, "PROBLEM") {
		t.Errorf("doctor exits 0 but reports a problem:\n%s", last)
	}
}

// pluginUser drives a user's life through the plugin, as the README's demo
// does, and checks each promise at both replicas at once: `user add
// --password-stdin --wait` returns once the user can log in (at either
// replica), `user end-sessions --wait` once no replica accepts the user's
// earlier tokens, and deleting the JackUser takes its password Secret with it.
func (j *journey) pluginUser(t *testing.T) {
	a, b := sidecarAddr(j.pods[0]), sidecarAddr(j.pods[1])
	const name, email, password = "eve", "eve@example.com", "eve-e2e-password-1"
	start := time.Now()
	out, err := c.tryInput(password+"\n", "kubectl-jack", "-n", shop, "user", "add", name,
		"--email", email, "--role", "staff", "--password-stdin", "--wait")
	if err != nil {
		t.Fatalf("kubectl jack user add --wait: %v\n%s", err, out)
	}
	t.Logf("kubectl jack user add --wait returned after %s (the kubelet brings the user directory to both pods):\n%s", time.Since(start).Round(100*time.Millisecond), out)
	if strings.Contains(out, password) {
		t.Errorf("user add printed the password it was given on stdin:\n%s", out)
	}
	// --wait returned: the user logs in at either replica, and a token of
	// one verifies at the other, without a wait.
	tok := c.login(t, a, email, password).session(t).Token
	if !verifies(t, b, tok) {
		t.Fatal("a token from one replica is refused at the other right after user add --wait")
	}
	if other := c.login(t, b, email, password).session(t).Token; !verifies(t, a, other) {
		t.Fatal("a token from the second replica is refused at the first right after user add --wait")
	}

	out = c.run(t, "kubectl-jack", "-n", shop, "key", "status", "jack")
	t.Logf("kubectl jack key status jack:\n%s", out)
	if !strings.Contains(out, "2/2") {
		t.Errorf("key status does not show the ring on both sidecars (2/2):\n%s", out)
	}

	out = c.run(t, "kubectl-jack", "-n", shop, "user", "end-sessions", name, "--wait")
	t.Logf("kubectl jack user end-sessions --wait:\n%s", out)
	for _, addr := range []string{b, a} {
		if verifies(t, addr, tok) {
			t.Errorf("sidecar %s accepts eve's token after user end-sessions --wait returned", addr)
		}
	}
	fresh := c.login(t, b, email, password).session(t).Token
	if !verifies(t, a, fresh) {
		t.Error("eve cannot log in again after her sessions ended (her password is unchanged)")
	}

	c.run(t, "kubectl", "-n", shop, "delete", "jackuser", name, "--wait")
	poll.Within(t, time.Minute, "eve's password Secret is deleted with her JackUser", func() bool {
		_, err := c.try("kubectl", "-n", shop, "get", "secret", name+"-password")
		return err != nil
	})
	poll.Within(t, propagationBound, "both replicas refuse the deleted user's token", func() bool {
		return !verifies(t, a, fresh) && !verifies(t, b, fresh)
	})
}
