//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// upgradeVersion is the second build hack/e2e.sh pushes to the cluster's
// registry: the same tree stamped with another version, so other digests.
const upgradeVersion = "dev-upgrade"

// upgrade upgrades the running install to another build, as a platform
// engineer would (helm upgrade to new images, by digest, from the registry),
// while clients keep logging in, using their tokens at both replicas and
// logging out: not one request may be refused during the operator's rolling
// update, tokens issued before it verify after it, and the injected pods
// keep the sidecar they were created with until they restart, then run the
// new one.
func (j *journey) upgrade(t *testing.T) {
	from, to := pushedImages(t, "dev"), pushedImages(t, upgradeVersion)
	if from.Operator == to.Operator || from.Sidecar == to.Sidecar {
		t.Fatalf("the upgrade's images have the digests of the installed ones (%s, %s): nothing would change", to.Operator, to.Sidecar)
	}
	addrs := []string{sidecarAddr(j.pods[0]), sidecarAddr(j.pods[1])}
	for _, p := range j.pods {
		if got := sidecarImage(p); got != from.sidecarRef() {
			t.Fatalf("pod %s runs sidecar %s before the upgrade, want %s", p.Name, got, from.sidecarRef())
		}
	}
	// Tokens issued before the upgrade, one per user, at alternating replicas.
	before := map[string]string{}
	for i, u := range users {
		before[u.name] = c.login(t, addrs[i%2], u.email, u.password).session(t).Token
		time.Sleep(time.Second) // a client logs in at most once a second per replica
	}

	traffic := startCrossTraffic(addrs, "ada@example.com", users[0].password, 2*time.Second, 10*time.Minute)
	logouts := startLogouts(addrs, 10*time.Minute)
	start := time.Now()
	c.run(t, "helm", append([]string{"upgrade", release, "-n", operatorNS}, append(to.chart(), "--wait", "--timeout", "5m")...)...)
	t.Logf("helm upgrade --wait to %s: %s", to.chart()[2], time.Since(start).Round(time.Second))
	if got := operatorImage(t); got != to.operatorRef() {
		t.Errorf("after the upgrade the operator's Deployment names %s, want %s", got, to.operatorRef())
	}
	poll.Within(t, 3*time.Minute, "every operator pod runs the new image", func() bool {
		return operatorRunsOnly(t, to.Operator)
	})
	// A little longer: the leader hands over when the last old pod stops.
	time.Sleep(10 * time.Second)
	logins, verified, refused := traffic.end()
	loggedOut, logoutRefused := logouts.end()
	t.Logf("during the upgrade (%s): %d logins, %d verifications, %d logouts; %d refused",
		time.Since(start).Round(time.Second), logins, verified, loggedOut, len(refused)+len(logoutRefused))
	for _, r := range append(refused, logoutRefused...) {
		t.Errorf("refused during the upgrade: %s", r)
	}
	if logins == 0 || verified == 0 || loggedOut == 0 {
		t.Errorf("no traffic during the upgrade: %d logins, %d verifications, %d logouts", logins, verified, loggedOut)
	}

	// The injected pods were left alone: the old sidecar, still serving.
	for _, p := range readyPods(t) {
		if got := sidecarImage(p); got != from.sidecarRef() {
			t.Errorf("pod %s was changed by the upgrade: sidecar %s, want %s until it restarts", p.Name, got, from.sidecarRef())
		}
	}
	for name, tok := range before {
		for _, addr := range addrs {
			if !verifies(t, addr, tok) {
				t.Errorf("%s's token from before the upgrade is refused at %s (old sidecar, new operator)", name, addr)
			}
		}
	}

	// Restarted, the pods get the new sidecar, pinned by digest, which
	// accepts the tokens issued before the upgrade.
	c.run(t, "kubectl", "-n", shop, "rollout", "restart", "deployment/jack-echo")
	c.run(t, "kubectl", "-n", shop, "rollout", "status", "deployment/jack-echo", "--timeout=3m")
	// Until the old pods are gone (not just terminating), the Service may
	// still send a request to one whose app has stopped.
	poll.Within(t, 3*time.Minute, "both jack-echo pods run the new sidecar, and the old pods are gone", func() bool {
		var all corev1.PodList
		if c.k8s.List(ctx(), &all, client.InNamespace(shop), client.MatchingLabels{"app": "jack-echo"}) != nil || len(all.Items) != 2 {
			return false
		}
		j.pods = readyPods(t)
		return len(j.pods) == 2 && !slices.ContainsFunc(j.pods, func(p corev1.Pod) bool { return sidecarImage(p) != to.sidecarRef() })
	})
	for _, p := range j.pods {
		if v := p.Annotations[jack.AnnotationInjectedVersion]; v != to.Version {
			t.Errorf("pod %s: %s=%q, want %q", p.Name, jack.AnnotationInjectedVersion, v, to.Version)
		}
		if v := sidecarVersion(t, p); v != to.Version {
			t.Errorf("pod %s: the sidecar reports version %q, want %q", p.Name, v, to.Version)
		}
	}
	for name, tok := range before {
		for _, p := range j.pods {
			if !verifies(t, sidecarAddr(p), tok) {
				t.Errorf("%s's token from before the upgrade is refused by the new sidecar of %s", name, p.Name)
			}
		}
	}
}

// sidecarImage is the image of a pod's injected sidecar.
func sidecarImage(p corev1.Pod) string {
	for _, ctrs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, ctr := range ctrs {
			if ctr.Name == jack.SidecarContainerName {
				return ctr.Image
			}
		}
	}
	return ""
}

// operatorImage is the image of the operator's Deployment.
func operatorImage(t testing.TB) string {
	var d appsv1.Deployment
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: operatorNS, Name: release}, &d))
	return d.Spec.Template.Spec.Containers[0].Image
}

// operatorRunsOnly reports whether every pod of the operator's Deployment is
// Ready and runs the image of that digest, and there are as many as it wants.
func operatorRunsOnly(t testing.TB, digest string) bool {
	var d appsv1.Deployment
	var pods corev1.PodList
	if c.k8s.Get(ctx(), types.NamespacedName{Namespace: operatorNS, Name: release}, &d) != nil ||
		c.k8s.List(ctx(), &pods, client.InNamespace(operatorNS), client.MatchingLabels{"app.kubernetes.io/name": "jack-operator"}) != nil {
		return false
	}
	n := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		for _, s := range p.Status.ContainerStatuses {
			if !s.Ready || !strings.HasSuffix(s.ImageID, digest) {
				return false
			}
		}
		n++
	}
	return n == int(*d.Spec.Replicas)
}

// sidecarVersion is the version a pod's sidecar reports on its /state.
func sidecarVersion(t testing.TB, p corev1.Pod) string {
	var st jack.SidecarState
	if err := getJSON("http://"+opsAddr(p)+"/state", &st); err != nil {
		t.Errorf("pod %s /state: %v", p.Name, err)
	}
	return st.Version
}

// logoutLoop logs in as max and sam, in turn, at one replica and logs out at
// the other, until stopped: each logout must answer 200 and leave the token
// refused at both replicas. It keeps within the sidecars' own limits, per
// replica: a client logs in at most once a second (the cross traffic logs
// in every 2 s), a user logs out at most once every 3 s.
type logoutLoop struct {
	stop    chan struct{}
	done    sync.WaitGroup
	mu      sync.Mutex
	n       int
	refused []string
}

func startLogouts(addrs []string, limit time.Duration) *logoutLoop {
	l := &logoutLoop{stop: make(chan struct{})}
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		until := time.Now().Add(limit)
		for i := 0; time.Now().Before(until); i++ {
			select {
			case <-l.stop:
				return
			case <-time.After(1700 * time.Millisecond):
			}
			in, out := addrs[i%2], addrs[(i+1)%2]
			u := users[1+i%2]
			tok, err := loginAt(in, u.email, u.password)
			if err != nil {
				// Logins are the cross traffic's to count; a refused one
				// here is a refusal too.
				l.note("login of %s at %s: %v", u.name, in, err)
				continue
			}
			st, code, err := logoutAt(out, tok)
			if err != nil || st != http.StatusOK {
				l.note("logout of %s at %s: %d %s %v", u.name, out, st, code, err)
				continue
			}
			l.mu.Lock()
			l.n++
			l.mu.Unlock()
			for _, addr := range addrs {
				if st, err := verifyAt(addr, tok); err != nil || st != http.StatusUnauthorized {
					l.note("a logged-out token of %s answered %d at %s (%v)", u.name, st, addr, err)
				}
			}
		}
	}()
	return l
}

func (l *logoutLoop) note(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused = append(l.refused, fmt.Sprintf(format, args...))
}

func (l *logoutLoop) end() (int, []string) {
	close(l.stop)
	l.done.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.refused
}
