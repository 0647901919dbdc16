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
