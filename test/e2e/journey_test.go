//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/keyring"

	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

const (
	release    = "jack-operator"
	operatorNS = "jack-system"
	shop       = "e2e-shop"
	// propagationBound is the bound for a logout, a disable or a
	// password change to reach every sidecar.
	propagationBound = 2 * time.Second
)

type user struct{ name, email, role, password string }

var users = []user{
	{"ada", "ada@example.com", "admin", "ada's first long password"},
	{"max", "max@example.com", "manager", "max's first long password"},
	{"sam", "sam@example.com", "staff", "sam's first long password"},
}

// allowed is Jack's role table (DESIGN.md), per resource jack-echo serves.
var allowed = map[string][]string{
	"admin":   {"conversations", "tasks", "guests", "reports", "settings", "users"},
	"manager": {"conversations", "tasks", "guests", "reports"},
	"staff":   {"conversations", "tasks"},
}

var resources = []string{"conversations", "tasks", "guests", "reports", "settings", "users"}

// TestTheJourney runs the steps in order; each needs the ones before.
func TestTheJourney(t *testing.T) {
	j := &journey{tokens: map[string]string{}}
	for _, step := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"install the chart", j.install},
		{"a namespace, a SigningKey and three users", j.resources},
		{"the app comes up with the sidecar injected", j.app},
		{"kubectl jack explains the injection and its doctor finds nothing wrong", j.plugin},
		{"kubectl jack adds a user, ends her sessions on both replicas at once, and her password goes with her", j.pluginUser},
		{"each role logs in and reaches exactly its routes", j.roles},
		{"identity headers cannot be forged", j.forgery},
		{"a logout at one replica is refused at the other", j.logout},
		{"every logout holds at once on every replica", j.logoutsHold},
		{"forced rotations under cross-replica traffic refuse no valid token", j.rotation},
		{"an upgrade to a new build under traffic refuses nothing; restarted pods get the new sidecar", j.upgrade},
		{"an API key reaches exactly its role's routes; disabled, both replicas refuse it", j.apiKeys},
		{"a disabled user is refused everywhere", j.disable},
		{"a password change ends sessions and the old password", j.password},
		{"the operator killed mid-rotation leaves a right ring", j.killOperator},
		{"a labelled pod running without the sidecar raises an event and the metric", j.missedInjection},
		{"a namespace's last JackUser and SigningKey take every hash and key with them", j.emptyNamespace},
		{"uninstall leaves only what users own", j.uninstall},
	} {
		if !t.Run(step.name, step.run) {
			t.Fatalf("stopping: %q failed", step.name)
		}
	}
}

type journey struct {
	pods   []corev1.Pod // jack-echo's two replicas
	tokens map[string]string
}

// sidecarAddr is a pod's sidecar (main port) address.
func sidecarAddr(p corev1.Pod) string { return net.JoinHostPort(p.Status.PodIP, "8080") }
func opsAddr(p corev1.Pod) string     { return net.JoinHostPort(p.Status.PodIP, "9090") }

func (j *journey) install(t *testing.T) {
	// A previous run that stopped half-way.
	_, _ = c.try("helm", "uninstall", release, "-n", operatorNS, "--wait")
	_ = c.k8s.Delete(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shop}})
	poll.Within(t, 3*time.Minute, "a previous run's namespace is gone", func() bool {
		return apierrors.IsNotFound(c.k8s.Get(ctx(), types.NamespacedName{Name: shop}, &corev1.Namespace{}))
	})
	// As a user installs a release: the chart from the registry, whose
	// values pin the images it was pushed with; no image values given.
	dev := pushedImages(t, "dev")
	start := time.Now()
	c.run(t, "helm", append([]string{"upgrade", "--install", release, "-n", operatorNS, "--create-namespace"},
		append(dev.chart(), "--wait", "--timeout", "5m")...)...)
	t.Logf("helm install --wait from %s: %s", dev.chart()[0], time.Since(start).Round(time.Second))
	if got, want := operatorImage(t), dev.operatorRef(); got != want {
		t.Errorf("the operator runs %s, want %s (the pushed chart's pinned digest)", got, want)
	}
	// What the host sees in the registry is what the cluster pulled.
	if got := strings.TrimSpace(c.host(t, "crane", "digest", dev.Registry+"/jack-auth:"+dev.Version)); got != dev.Sidecar {
		t.Errorf("crane digest of jack-auth:%s from the host: %q, want %s", dev.Version, got, dev.Sidecar)
	}
	var s corev1.Secret
	poll.Within(t, time.Minute, "the webhook certificate Secret exists", func() bool {
		return c.k8s.Get(ctx(), types.NamespacedName{Namespace: operatorNS, Name: "jack-operator-webhook-certs"}, &s) == nil
	})
	var mwcs admissionregistrationv1.MutatingWebhookConfigurationList
	poll.Within(t, time.Minute, "the pod injection webhook trusts the operator's CA", func() bool {
		if c.k8s.List(ctx(), &mwcs) != nil {
			return false
		}
		for _, m := range mwcs.Items {
			for _, w := range m.Webhooks {
				if w.Name == "inject.auth.jack.io" && len(w.ClientConfig.CABundle) > 0 {
					return true
				}
			}
		}
		return false
	})
	// What a user runs after installing: the chart's own test pod checks the
	// replicas and that the webhook's certificate verifies against the
	// caBundle the API server uses.
	start = time.Now()
	out := c.run(t, "helm", "test", release, "-n", operatorNS, "--timeout", "3m")
	t.Logf("helm test: %s\n%s", time.Since(start).Round(time.Second), out)
}

func (j *journey) resources(t *testing.T) {
	must(t, c.k8s.Create(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shop,
		Labels: map[string]string{jack.LabelInjection: jack.InjectionEnabled}}}))
	must(t, c.k8s.Create(ctx(), &authv1alpha1.SigningKey{
		ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: shop},
		// A short prepublish so the journey sees a rotation through; the
		// kubelet's propagation is measured against the default (5m).
		Spec: authv1alpha1.SigningKeySpec{Rotation: authv1alpha1.RotationPolicy{Prepublish: metav1.Duration{Duration: 30 * time.Second}}},
	}))
	for _, u := range users {
		must(t, c.k8s.Create(ctx(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.name + "-password", Namespace: shop},
			StringData: map[string]string{"password": u.password}}))
		must(t, c.k8s.Create(ctx(), &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: u.name, Namespace: shop},
			Spec: authv1alpha1.JackUserSpec{Email: u.email, Name: u.name, Role: jack.Role(u.role),
				PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: u.name + "-password"}}}))
	}
	poll.Within(t, 2*time.Minute, "the SigningKey and the JackUsers are Ready", func() bool {
		var key authv1alpha1.SigningKey
		if c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: "jack"}, &key) != nil || !meta.IsStatusConditionTrue(key.Status.Conditions, authv1alpha1.ConditionReady) {
			return false
		}
		for _, u := range users {
			var ju authv1alpha1.JackUser
			if c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: u.name}, &ju) != nil || !meta.IsStatusConditionTrue(ju.Status.Conditions, authv1alpha1.ConditionReady) {
				return false
			}
		}
		return true
	})
}

func (j *journey) app(t *testing.T) {
	labels := map[string]string{"app": "jack-echo", jack.LabelInject: jack.InjectRequested}
	must(t, c.k8s.Create(ctx(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-echo", Namespace: shop},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "jack-echo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "jack-echo", Image: pushedImages(t, "dev").echoRef(), ImagePullPolicy: corev1.PullIfNotPresent,
					Args: []string{"--listen=127.0.0.1:3000"},
				}}},
			},
		},
	}))
	must(t, c.k8s.Create(ctx(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-echo", Namespace: shop},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "jack-echo"}, Ports: []corev1.ServicePort{{
			Name: "http", Port: 80, TargetPort: intstr.FromString(jack.SidecarPortName),
		}}},
	}))
	start := time.Now()
	poll.Within(t, 3*time.Minute, "both jack-echo pods are Ready", func() bool {
		j.pods = readyPods(t)
		return len(j.pods) == 2
	})
	t.Logf("pods Ready %s after the Deployment was created", time.Since(start).Round(time.Second))
	for _, p := range j.pods {
		if len(p.Spec.InitContainers) == 0 || p.Spec.InitContainers[0].Name != jack.SidecarContainerName ||
			p.Spec.InitContainers[0].RestartPolicy == nil || *p.Spec.InitContainers[0].RestartPolicy != corev1.ContainerRestartPolicyAlways {
			t.Errorf("pod %s has no native jack-auth sidecar: %v", p.Name, p.Spec.InitContainers)
		}
		for _, ctr := range p.Spec.Containers {
			for _, m := range ctr.VolumeMounts {
				if strings.HasPrefix(m.Name, jack.SidecarVolumePrefix) {
					t.Errorf("pod %s: the app container mounts %s", p.Name, m.Name)
				}
			}
		}
	}
}

func readyPods(t testing.TB) []corev1.Pod { return readyPodsIn(t, shop) }

// readyPodsIn are jack-echo's Ready pods in a namespace.
func readyPodsIn(t testing.TB, namespace string) []corev1.Pod {
	var pods corev1.PodList
	if err := c.k8s.List(ctx(), &pods, client.InNamespace(namespace), client.MatchingLabels{"app": "jack-echo"}); err != nil {
		return nil
	}
	var ready []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.PodIP != "" && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
			return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		}) {
			ready = append(ready, p)
		}
	}
	return ready
}

// serviceAddr is jack-echo's Service: what Jack's clients reach.
func serviceAddr(t testing.TB) string {
	var svc corev1.Service
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: "jack-echo"}, &svc))
	return net.JoinHostPort(svc.Spec.ClusterIP, "80")
}

func (j *journey) roles(t *testing.T) {
	svc := serviceAddr(t)
	for _, u := range users {
		s := c.login(t, svc, u.email, u.password).session(t)
		if s.User.Role != u.role || s.User.Email != u.email {
			t.Errorf("%s logged in as %+v", u.name, s.User)
		}
		j.tokens[u.name] = s.Token
		for _, r := range resources {
			want := slices.Contains(allowed[u.role], r)
			a := c.do(t, "GET", svc, "/api/v1/"+r, bearer(s.Token), "")
			switch {
			case want && a.Status == http.StatusOK:
				if e := a.echo(t); e.User.Role != u.role || e.User.Email != u.email || e.User.ID != s.User.ID {
					t.Errorf("%s on %s: the app saw %+v", u.name, r, e.User)
				}
			case !want && a.Status == http.StatusForbidden && a.Body.Error.Code == "FORBIDDEN":
			default:
				t.Errorf("%s GET /api/v1/%s through the proxy: %d %s (allowed: %v)", u.name, r, a.Status, a.Raw, want)
			}
			// The same decision through forward auth.
			fa := c.do(t, "GET", svc, "/auth", map[string]string{"Authorization": "Bearer " + s.Token,
				"X-Original-Method": "GET", "X-Original-URI": "/api/v1/" + r}, "")
			if (fa.Status == http.StatusOK) != want {
				t.Errorf("%s /auth for /api/v1/%s: %d %s (allowed: %v)", u.name, r, fa.Status, fa.Raw, want)
			}
		}
	}
	if a := c.do(t, "GET", svc, "/api/v1/tasks", nil, ""); a.Status != http.StatusUnauthorized || a.Body.Error.Code != "TOKEN_MISSING" {
		t.Errorf("no token: %d %s", a.Status, a.Raw)
	}
}

func (j *journey) forgery(t *testing.T) {
	svc := serviceAddr(t)
	a := c.do(t, "GET", svc, "/api/v1/tasks", map[string]string{"Authorization": "Bearer " + j.tokens["sam"],
		jack.HeaderUserRole: "admin", jack.HeaderUserID: "admin-1", jack.HeaderAuthRequestUser: "admin-1"}, "")
	e := a.echo(t)
	for name, values := range e.Headers {
		for _, v := range values {
			if v == "admin" || v == "admin-1" {
				t.Errorf("the app received the forged %s: %q (all: %v)", name, v, e.Headers)
			}
		}
	}
	if e.User.Role != "staff" {
		t.Errorf("the app saw role %q for sam", e.User.Role)
	}
}

// verifies reports whether a sidecar accepts a token, asking /auth in
// Envoy's form: a 403 is an accepted token whose role may not call the
// route. Not refresh, which is throttled per token and would refuse a
// polling probe.
func verifies(t testing.TB, addr, token string) bool {
	st := c.do(t, "GET", addr, "/auth/api/v1/tasks", bearer(token), "").Status
	return st == http.StatusOK || st == http.StatusForbidden
}

func (j *journey) logout(t *testing.T) {
	a, b := sidecarAddr(j.pods[0]), sidecarAddr(j.pods[1])
	tok := c.login(t, a, "max@example.com", users[1].password).session(t).Token
	if !verifies(t, b, tok) {
		t.Fatal("the other replica refuses a fresh token")
	}
	if r := c.do(t, "POST", a, "/api/v1/auth/logout", bearer(tok), ""); r.Status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	poll.Within(t, propagationBound, "the other replica refuses the logged-out token", func() bool { return !verifies(t, b, tok) })
}

// logoutsHold logs in at one replica, logs out at the other and uses the
// token at once, without waiting, at both — JACK_E2E_LOGOUTS times (100
// unless set; make soak sets 1000), alternating sides and users. A logout
// that answered 200 must leave the token refused everywhere: not once may
// it be accepted. It reports the logout latency this costs.
//
// It keeps within the sidecars' own limits, which each replica applies on
// its own: a client logs in at most once a second per replica, and a user
// logs out at most once every three seconds per replica.
func (j *journey) logoutsHold(t *testing.T) {
	n := 100
	if v := os.Getenv("JACK_E2E_LOGOUTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("JACK_E2E_LOGOUTS=%q is not a positive number", v)
		}
	}
	const pace = 650 * time.Millisecond
	addrs := []string{sidecarAddr(j.pods[0]), sidecarAddr(j.pods[1])}
	var took []time.Duration
	accepted := 0
	next := time.Now()
	for i := range n {
		time.Sleep(time.Until(next))
		next = time.Now().Add(pace)
		in, out := addrs[i%2], addrs[(i+1)%2]
		u := users[i%len(users)]
		tok := c.login(t, in, u.email, u.password).session(t).Token
		start := time.Now()
		r := c.do(t, "POST", out, "/api/v1/auth/logout", bearer(tok), "")
		took = append(took, time.Since(start))
		if r.Status != http.StatusOK {
			t.Fatalf("logout %d at %s: %d %s", i+1, out, r.Status, r.Raw)
		}
		for _, addr := range addrs {
			if verifies(t, addr, tok) {
				accepted++
				t.Errorf("logout %d: the token is still accepted at %s right after the logout answered 200", i+1, addr)
			}
		}
	}
	slices.Sort(took)
	t.Logf("%d logouts at the other replica, each used at once at both: %d accepted; logout latency p50 %s, p99 %s, max %s",
		n, accepted, took[len(took)/2].Round(time.Millisecond), took[len(took)*99/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
}

// loadedKeys reads a sidecar's /metrics: the key ids it has loaded, by state.
func loadedKeys(t testing.TB, p corev1.Pod) map[string]string {
	resp, err := c.http.Get("http://" + opsAddr(p) + "/metrics")
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil
	}
	keys := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "jack_sidecar_loaded_keys{") {
			continue
		}
		kidAt, stateAt := strings.Index(line, `kid="`), strings.Index(line, `state="`)
		if kidAt < 0 || stateAt < 0 {
			continue
		}
		k := line[kidAt+5:]
		st := line[stateAt+7:]
		keys[k[:strings.IndexByte(k, '"')]] = st[:strings.IndexByte(st, '"')]
	}
	return keys
}

// usersLoadedAt is when a sidecar last loaded its user directory, from
// its /readyz report.
func usersLoadedAt(p corev1.Pod) time.Time {
	resp, err := c.http.Get("http://" + opsAddr(p) + "/readyz")
	if err != nil {
		return time.Time{}
	}
	defer func() { _ = resp.Body.Close() }()
	var report struct {
		Users struct {
			LoadedAt time.Time `json:"loadedAt"`
		} `json:"users"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&report)
	return report.Users.LoadedAt
}

func signingKey(t testing.TB) authv1alpha1.SigningKey {
	var k authv1alpha1.SigningKey
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: "jack"}, &k))
	return k
}

// rotate asks for a rotation of the shop's SigningKey as a user would, with
// kubectl, and returns the id of the key it publishes.
func rotate(t *testing.T) (published string) {
	t.Helper()
	c.run(t, "kubectl", "-n", shop, "annotate", "--overwrite", "signingkey", "jack", jack.AnnotationRotate+"="+strconv.FormatInt(time.Now().UnixNano(), 10))
	poll.Within(t, 30*time.Second, "a new key is published", func() bool {
		for _, k := range signingKey(t).Status.Keys {
			if k.State == jack.KeyPublished {
				published = k.ID
				return true
			}
		}
		return false
	})
	return published
}

func (j *journey) disable(t *testing.T) {
	tok := j.tokens["sam"]
	c.run(t, "kubectl", "-n", shop, "patch", "jackuser", "sam", "--type=merge", "-p", `{"spec":{"disabled":true}}`)
	poll.Within(t, propagationBound, "both replicas refuse the disabled user's token", func() bool {
		return !verifies(t, sidecarAddr(j.pods[0]), tok) && !verifies(t, sidecarAddr(j.pods[1]), tok)
	})
	for _, p := range j.pods {
		if a := c.login(t, sidecarAddr(p), "sam@example.com", users[2].password); a.Status != http.StatusUnauthorized {
			t.Errorf("the disabled user logs in at %s: %d", p.Name, a.Status)
		}
	}
}

func (j *journey) password(t *testing.T) {
	tok := j.tokens["max"]
	time.Sleep(time.Second) // tokens carry whole seconds; see docs/sessions.md
	newPassword := "max's second long password"
	var s corev1.Secret
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: "max-password"}, &s))
	s.Data = map[string][]byte{"password": []byte(newPassword)}
	changed := time.Now()
	must(t, c.k8s.Update(ctx(), &s))
	poll.Within(t, propagationBound, "both replicas end the sessions from before the change", func() bool {
		return !verifies(t, sidecarAddr(j.pods[0]), tok) && !verifies(t, sidecarAddr(j.pods[1]), tok)
	})
	// Wait for the directory by watching the sidecars reload it, not by
	// trying the password: failed logins would throttle the account.
	took := poll.Within(t, 5*time.Minute, "both sidecars load the new user directory (the kubelet's propagation)", func() bool {
		for _, p := range j.pods {
			if !usersLoadedAt(p).After(changed) {
				return false
			}
		}
		return true
	})
	t.Logf("user directory propagation after a password change: %s", took.Round(time.Second))
	for _, p := range j.pods {
		if a := c.login(t, sidecarAddr(p), "max@example.com", newPassword); a.Status != http.StatusOK {
			t.Errorf("the new password does not log in at %s: %d %s", p.Name, a.Status, a.Raw)
		}
	}
	for _, p := range j.pods {
		if a := c.login(t, sidecarAddr(p), "max@example.com", users[1].password); a.Status != http.StatusUnauthorized {
			t.Errorf("the old password logs in at %s: %d", p.Name, a.Status)
		}
	}
}

func (j *journey) killOperator(t *testing.T) {
	before := signingKey(t).Status.ActiveKeyID
	published := rotate(t)
	// Killed while the rotation is under way: the new key published, not yet
	// active (for the SigningKey's 30 s prepublish).
	var pods corev1.PodList
	must(t, c.k8s.List(ctx(), &pods, client.InNamespace(operatorNS)))
	killed := map[types.UID]bool{}
	for _, p := range pods.Items {
		killed[p.UID] = true
		must(t, client.IgnoreNotFound(c.k8s.Delete(ctx(), &p, client.GracePeriodSeconds(0))))
	}
	poll.Within(t, 3*time.Minute, "new operator pods are Ready in place of the killed ones", func() bool {
		var d appsv1.Deployment
		var now corev1.PodList
		if c.k8s.Get(ctx(), types.NamespacedName{Namespace: operatorNS, Name: release}, &d) != nil ||
			c.k8s.List(ctx(), &now, client.InNamespace(operatorNS)) != nil {
			return false
		}
		fresh := 0
		for _, p := range now.Items {
			if killed[p.UID] {
				return false
			}
			if slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
				return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
			}) {
				fresh++
			}
		}
		return fresh == int(*d.Spec.Replicas)
	})
	var key authv1alpha1.SigningKey
	poll.Within(t, 2*time.Minute, "the SigningKey is Ready with the requested rotation handled", func() bool {
		key = signingKey(t)
		return meta.IsStatusConditionTrue(key.Status.Conditions, authv1alpha1.ConditionReady) &&
			key.Status.LastRotateRequest == key.Annotations[jack.AnnotationRotate]
	})
	poll.Within(t, 2*time.Minute, "the new operator finishes the rotation: the published key becomes active", func() bool {
		key = signingKey(t)
		return key.Status.ActiveKeyID == published
	})
	for _, k := range key.Status.Keys {
		if k.ID == before && k.State != jack.KeyRetired {
			t.Errorf("the key active before the rotation is %s, want Retired", k.State)
		}
	}
	var secret, backup corev1.Secret
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: "jack-jwt"}, &secret))
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: "jack-jwt-backup"}, &backup))
	ring, err := keyring.Parse(secret.Data[jack.SecretKeyKeyRing])
	if err != nil {
		t.Fatalf("the mounted ring does not parse after the crash: %v", err)
	}
	active := 0
	for _, k := range ring.Keys {
		if k.State == jack.KeyActive {
			active++
		}
	}
	if active != 1 {
		t.Errorf("%d active keys after the crash: %+v", active, key.Status.Keys)
	}
	if string(secret.Data[jack.SecretKeyKeyRing]) != string(backup.Data[jack.SecretKeyKeyRing]) {
		t.Error("the mounted ring and its backup differ after the crash")
	}
	for _, p := range j.pods {
		if !verifies(t, sidecarAddr(p), j.tokens["ada"]) {
			t.Errorf("pod %s refuses a valid token after the crash", p.Name)
		}
	}
}

func (j *journey) uninstall(t *testing.T) {
	c.run(t, "helm", "uninstall", release, "-n", operatorNS, "--wait", "--timeout", "3m")
	poll.Within(t, 2*time.Minute, "the operator's objects are gone", func() bool {
		var deps appsv1.DeploymentList
		var mwcs admissionregistrationv1.MutatingWebhookConfigurationList
		var vwcs admissionregistrationv1.ValidatingWebhookConfigurationList
		var crs rbacv1.ClusterRoleList
		if c.k8s.List(ctx(), &deps, client.InNamespace(operatorNS)) != nil || c.k8s.List(ctx(), &mwcs) != nil ||
			c.k8s.List(ctx(), &vwcs) != nil || c.k8s.List(ctx(), &crs) != nil {
			return false
		}
		for _, cr := range crs.Items {
			if strings.HasPrefix(cr.Name, release) {
				return false
			}
		}
		return len(deps.Items) == 0 && len(mwcs.Items) == 0 && len(vwcs.Items) == 0
	})
	// What users own stays: the CRDs, their resources, the Secrets.
	var key authv1alpha1.SigningKey
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: "jack"}, &key))
	var jus authv1alpha1.JackUserList
	must(t, c.k8s.List(ctx(), &jus, client.InNamespace(shop)))
	if len(jus.Items) != len(users) {
		t.Errorf("%d JackUsers after uninstall, want %d", len(jus.Items), len(users))
	}
	for _, name := range []string{"jack-jwt", jack.UserDirectorySecretName} {
		must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: name}, &corev1.Secret{}))
	}
	// Nothing of the operator's own is left in its namespace.
	var secrets corev1.SecretList
	must(t, c.k8s.List(ctx(), &secrets, client.InNamespace(operatorNS)))
	for _, s := range secrets.Items {
		t.Errorf("left in %s after uninstall: Secret %s", operatorNS, s.Name)
	}
	var leases coordinationv1.LeaseList
	must(t, c.k8s.List(ctx(), &leases, client.InNamespace(operatorNS)))
	for _, l := range leases.Items {
		t.Errorf("left in %s after uninstall: Lease %s", operatorNS, l.Name)
	}
	must(t, client.IgnoreNotFound(c.k8s.Delete(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shop}})))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
