package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers"
	"github.com/jack-io/jack-operator/internal/testsupport/cutproxy"
	"github.com/jack-io/jack-operator/internal/testsupport/kubelettest"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// These tests wire sidecar processes to a real API server, with the
// operator's controllers running as in a cluster. What a kubelet would do —
// copy the Secrets into the pods' volumes — the test does when it says so
// (syncVolumes), so a test can show what reaches the sidecars by watching,
// before any kubelet would.

// clusterMaxPropagation is how soon a logout, a disable or a password change
// must reach every sidecar (the bound; typically it takes tens of
// milliseconds to a second, the operator spacing its writes by 500 ms).
const clusterMaxPropagation = 2 * time.Second

var (
	clusterOnce sync.Once
	cluster     *clusterEnv
	clusterErr  error
	clusterNS   atomic.Int64
)

type clusterEnv struct {
	env       *testenv.Env
	k8s       client.Client
	clientset kubernetes.Interface
	stop      func()
}

// startCluster starts the API server and the controllers, once for every
// test of the package; TestMain stops them.
func startCluster(t testing.TB) *clusterEnv {
	t.Helper()
	clusterOnce.Do(func() { cluster, clusterErr = newClusterEnv() })
	if clusterErr != nil {
		t.Fatalf("starting the API server and the operator: %v", clusterErr)
	}
	return cluster
}

func stopCluster() {
	if cluster != nil {
		cluster.stop()
	}
}

func newClusterEnv() (*clusterEnv, error) {
	scheme := testenv.Scheme()
	env, err := testenv.Start(scheme)
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: cache.Options{ByObject: controllers.CacheByObject()},
	})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	for _, setup := range []interface{ SetupWithManager(ctrl.Manager) error }{
		&controllers.SigningKeyReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("signingkey-controller")},
		&controllers.JackUserReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("jackuser-controller"), HashParams: cheap},
		&controllers.SidecarAccessReconciler{Client: mgr.GetClient()},
		&controllers.TokenRevocationReconciler{Client: mgr.GetClient()},
		&controllers.SessionsEndReconciler{Client: mgr.GetClient()},
		&controllers.UserLoginReconciler{Client: mgr.GetClient()},
	} {
		if err := setup.SetupWithManager(mgr); err != nil {
			_ = env.Stop()
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "the operator's manager stopped:", err)
		}
	}()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		cancel()
		_ = env.Stop()
		return nil, err
	}
	return &clusterEnv{env: env, k8s: env.Client, clientset: cs, stop: func() {
		cancel()
		<-done
		_ = env.Stop()
	}}, nil
}

// jackNamespace is one namespace as a platform engineer sets it up: a
// SigningKey, two JackUsers with their password Secrets, and an injected
// pod whose service account the operator grants the sidecar's access.
type jackNamespace struct {
	t       testing.TB
	c       *clusterEnv
	name    string
	keys    *kubelettest.Volume
	users   *kubelettest.Volume
	creds   string
	userIDs map[string]string // by JackUser name
}

func newJackNamespace(t testing.TB) *jackNamespace {
	t.Helper()
	c := startCluster(t)
	ctx := context.Background()
	n := &jackNamespace{t: t, c: c, name: fmt.Sprintf("sessions-%d", clusterNS.Add(1)), userIDs: map[string]string{}}
	must(t, c.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n.name}}))
	must(t, c.k8s.Create(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: n.name}}))
	must(t, c.k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "jack-app", Namespace: n.name}}))
	// What the webhook leaves behind, which is all the operator reads.
	must(t, c.k8s.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-0", Namespace: n.name,
			Labels:      map[string]string{jack.LabelInject: jack.InjectRequested},
			Annotations: map[string]string{jack.AnnotationInjectedVersion: "test"}},
		Spec: corev1.PodSpec{ServiceAccountName: "jack-app", Containers: []corev1.Container{{Name: "jack", Image: "jack:1.0"}}},
	}))
	for _, u := range []struct{ name, email string }{{"ada", "ada@example.com"}, {"sam", "sam@example.com"}} {
		n.setPassword(u.name+"-pw", "first password of "+u.name)
		role := jack.RoleStaff
		if u.name == "ada" {
			role = jack.RoleAdmin
		}
		must(t, c.k8s.Create(ctx, &authv1alpha1.JackUser{
			ObjectMeta: metav1.ObjectMeta{Name: u.name, Namespace: n.name},
			Spec: authv1alpha1.JackUserSpec{Email: u.email, Name: u.name, Role: role,
				PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: u.name + "-pw"}},
		}))
	}
	poll.True(t, 15*time.Second, "the operator to make the key ring and the user directory", func() bool {
		for _, name := range []string{"ada", "sam"} {
			var u authv1alpha1.JackUser
			if c.k8s.Get(ctx, types.NamespacedName{Namespace: n.name, Name: name}, &u) != nil || u.Status.ID == "" || u.Status.PasswordVersion == "" {
				return false
			}
			n.userIDs[name] = u.Status.ID
		}
		return n.secret("jack-jwt") != nil && n.secret(jack.UserDirectorySecretName) != nil
	})
	root := t.TempDir()
	n.keys = kubelettest.NewVolume(t, filepath.Join(root, "keys"), n.secret("jack-jwt"))
	n.users = kubelettest.NewVolume(t, filepath.Join(root, "users"), n.secret(jack.UserDirectorySecretName))
	n.creds = n.credentials(filepath.Join(root, "serviceaccount"))
	return n
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (n *jackNamespace) secret(name string) map[string][]byte {
	var s corev1.Secret
	if err := n.c.k8s.Get(context.Background(), types.NamespacedName{Namespace: n.name, Name: name}, &s); err != nil {
		return nil
	}
	return s.Data
}

func (n *jackNamespace) setPassword(secret, pw string) {
	n.t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: n.name}, Data: map[string][]byte{"password": []byte(pw)}}
	if err := n.c.k8s.Create(ctx, s); err == nil {
		return
	}
	must(n.t, n.c.k8s.Update(ctx, s))
}

// syncVolumes does what the kubelet does, eventually: bring the Secrets'
// current content into the volumes.
func (n *jackNamespace) syncVolumes() {
	n.keys.Update(n.secret("jack-jwt"))
	n.users.Update(n.secret(jack.UserDirectorySecretName))
}

// credentials lays out what the webhook projects for the sidecar: a token of
// the pod's service account, the API server's CA and the namespace.
func (n *jackNamespace) credentials(dir string) string {
	n.t.Helper()
	tr, err := n.c.clientset.CoreV1().ServiceAccounts(n.name).CreateToken(context.Background(), "jack-app",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(3600))}}, metav1.CreateOptions{})
	must(n.t, err)
	must(n.t, os.MkdirAll(dir, 0o700))
	for name, data := range map[string][]byte{"token": []byte(tr.Status.Token), "ca.crt": n.c.env.Config.CAData, "namespace": []byte(n.name)} {
		must(n.t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	return dir
}

func ptrTo[T any](v T) *T { return &v }

// apiHost is the API server's address as host:port.
func (n *jackNamespace) apiHost() string {
	u, err := url.Parse(n.c.env.Config.Host)
	if err != nil || u.Host == "" {
		return strings.TrimPrefix(n.c.env.Config.Host, "https://")
	}
	return u.Host
}

// startSidecar runs a sidecar of the namespace's SigningKey, reaching the
// API server at apiHost (a cutproxy's address, or the server's), with its
// own state directory, as a pod's emptyDir, and any more flags.
func (n *jackNamespace) startSidecar(apiHost, stateDir string, flags ...string) *sidecar {
	n.t.Helper()
	f := &fixture{t: n.t, keys: n.keys, dir: n.users}
	return f.start(append([]string{"--signing-key", "jack", "--api-credentials", n.creds, "--api-server", "https://" + apiHost,
		"--revocations", filepath.Join(stateDir, "revocations.jsonl")}, flags...)...)
}

func (n *jackNamespace) patchUser(name, patch string) {
	n.t.Helper()
	must(n.t, n.c.k8s.Patch(context.Background(), &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: n.name}},
		client.RawPatch(types.MergePatchType, []byte(patch))))
}

// verifies reports whether s accepts tok (a refresh verifies it first).
// verifies asks /auth (in Envoy's form) whether the token is accepted: a
// 403 is an accepted token whose role may not call the route. Not refresh,
// which is throttled per token and would refuse a polling probe.
func verifies(s *sidecar, tok string) bool {
	st := s.do("GET", "/auth/api/v1/tasks", bearer(tok), "").Status
	return st == http.StatusOK || st == http.StatusForbidden
}

func loginToken(t testing.TB, s *sidecar, email, pw string) string {
	t.Helper()
	r := s.login(email, pw)
	if r.Status != http.StatusOK {
		t.Fatalf("login of %s: %d %s", email, r.Status, r.Raw)
	}
	return r.Body.Data.Token
}

func TestALogoutAtOneReplicaIsRefusedByEveryOther(t *testing.T) {
	n := newJackNamespace(t)
	a := n.startSidecar(n.apiHost(), t.TempDir())
	b := n.startSidecar(n.apiHost(), t.TempDir())
	tok := loginToken(t, a, "sam@example.com", "first password of sam")
	kept := loginToken(t, b, "sam@example.com", "first password of sam")
	if !verifies(b, tok) {
		t.Fatal("a token issued by one replica is refused by the other")
	}
	if r := a.do("POST", "/api/v1/auth/logout", bearer(tok), ""); r.Status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	if verifies(a, tok) {
		t.Fatal("the replica that logged the token out still accepts it")
	}
	poll.Within(t, clusterMaxPropagation, "the other replica refuses the logged-out token", func() bool { return !verifies(b, tok) })
	if !verifies(b, kept) || !verifies(a, kept) {
		t.Fatal("another session of the same user ended with the logout")
	}

	// The logout is a TokenRevocation anyone can read with kubectl.
	var revs authv1alpha1.TokenRevocationList
	must(t, n.c.k8s.List(context.Background(), &revs, client.InNamespace(n.name)))
	if len(revs.Items) != 1 || revs.Items[0].Spec.UserID != n.userIDs["sam"] || revs.Items[0].Labels[jack.LabelSigningKey] != "jack" {
		t.Fatalf("TokenRevocations after one logout: %+v", revs.Items)
	}
	if strings.Contains(fmt.Sprintf("%+v", revs.Items[0]), tok) {
		t.Fatal("the TokenRevocation holds the token itself")
	}

	// A replica that restarts with nothing of its own (a new pod, a fresh
	// emptyDir) still refuses it: it lists the revocations first thing.
	b.stop()
	fresh := n.startSidecar(n.apiHost(), t.TempDir())
	poll.Within(t, clusterMaxPropagation, "a new replica refuses the logged-out token", func() bool { return !verifies(fresh, tok) })
	if !verifies(fresh, kept) {
		t.Fatal("the new replica refuses a token that was not logged out")
	}
}

func TestDisablingOrDemotingAUserReachesEverySidecarBeforeTheKubelet(t *testing.T) {
	n := newJackNamespace(t)
	a := n.startSidecar(n.apiHost(), t.TempDir())
	b := n.startSidecar(n.apiHost(), t.TempDir())
	ada := loginToken(t, a, "ada@example.com", "first password of ada")
	sam := loginToken(t, b, "sam@example.com", "first password of sam")

	n.patchUser("ada", `{"spec":{"role":"manager"}}`)
	poll.Within(t, clusterMaxPropagation, "both replicas see ada demoted", func() bool {
		for _, s := range []*sidecar{a, b} {
			if r := s.do("POST", "/api/v1/auth/refresh", bearer(ada), ""); r.Status != http.StatusOK || r.Body.Data.User.Role != "manager" {
				return false
			}
		}
		return true
	})

	n.patchUser("sam", `{"spec":{"disabled":true}}`)
	poll.Within(t, clusterMaxPropagation, "both replicas refuse the disabled user's token", func() bool { return !verifies(a, sam) && !verifies(b, sam) })
	for _, s := range []*sidecar{a, b} {
		wantError(t, s.login("sam@example.com", "first password of sam"), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	// The kubelet has not brought a new directory: this came by watching.
	n.syncVolumes()
	for _, s := range []*sidecar{a, b} {
		if verifies(s, sam) {
			t.Error("the disabled user's token is accepted once the directory arrives")
		}
	}
}

func TestAPasswordChangeEndsSessionsEverywhereAndTheOldPasswordNeverWorksAgain(t *testing.T) {
	n := newJackNamespace(t)
	a := n.startSidecar(n.apiHost(), t.TempDir())
	b := n.startSidecar(n.apiHost(), t.TempDir())
	old := loginToken(t, a, "sam@example.com", "first password of sam")
	// Tokens carry whole seconds: one issued in the second the password
	// changes is refused too. Keep them apart so the test is about watching.
	time.Sleep(time.Second)

	n.setPassword("sam-pw", "second password of sam")
	poll.Within(t, clusterMaxPropagation, "both replicas end the sessions from before the change", func() bool { return !verifies(a, old) && !verifies(b, old) })
	// The mounted directory still holds the old hash; the watched status
	// says it is superseded, so neither password logs in until it arrives.
	for _, s := range []*sidecar{a, b} {
		wantError(t, s.login("sam@example.com", "first password of sam"), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	n.syncVolumes()
	for _, s := range []*sidecar{a, b} {
		poll.True(t, 15*time.Second, "the new password to log in once the directory arrives", func() bool {
			return s.login("sam@example.com", "second password of sam").Status == http.StatusOK
		})
		wantError(t, s.login("sam@example.com", "first password of sam"), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
}

func TestASidecarCutOffFromTheAPIServerKeepsServingAndCatchesUp(t *testing.T) {
	n := newJackNamespace(t)
	proxy := cutproxy.Start(t, n.apiHost())
	a := n.startSidecar(n.apiHost(), t.TempDir())
	b := n.startSidecar(proxy.Addr(), t.TempDir(), "--logout-confirm-timeout=1s")
	poll.True(t, 15*time.Second, "the cut-off replica to sync first", func() bool { return apiSynced(b) })
	loggedOutAtA := loginToken(t, a, "sam@example.com", "first password of sam")
	loggedOutAtB := loginToken(t, a, "sam@example.com", "first password of sam")
	other := loginToken(t, a, "ada@example.com", "first password of ada")

	proxy.Cut()
	if r := a.do("POST", "/api/v1/auth/logout", bearer(loggedOutAtA), ""); r.Status != http.StatusOK {
		t.Fatalf("logout at a: %d %s", r.Status, r.Raw)
	}
	// Cut off, b cannot share the logout, so it cannot say every replica
	// refuses the token: it says so, and that the token is refused here.
	wantError(t, b.do("POST", "/api/v1/auth/logout", bearer(loggedOutAtB), ""), http.StatusServiceUnavailable, "LOGOUT_UNCONFIRMED")
	// Cut off, b keeps serving from its last state: its own logout holds,
	// every other session works, logins work.
	if verifies(b, loggedOutAtB) {
		t.Error("the cut-off replica accepts the token it logged out")
	}
	if !verifies(b, other) {
		t.Error("the cut-off replica refuses a valid token")
	}
	if r := b.login("ada@example.com", "first password of ada"); r.Status != http.StatusOK {
		t.Errorf("login at the cut-off replica: %d %s", r.Status, r.Raw)
	}

	proxy.Restore()
	// Its reflectors back off up to 10 s between attempts.
	const catchUp = 15 * time.Second
	poll.Within(t, catchUp, "the replica back in touch refuses the logout made elsewhere", func() bool { return !verifies(b, loggedOutAtA) })
	poll.Within(t, catchUp, "the other replica refuses the logout made while cut off", func() bool { return !verifies(a, loggedOutAtB) })
}

// apiSynced reads the sidecar's /readyz report of its watches.
func apiSynced(s *sidecar) bool {
	resp, err := http.Get(s.ops + "/readyz")
	if err != nil {
		return false
	}
	defer func() { _ = resp.Body.Close() }()
	var report struct {
		API struct {
			Users, Revocations, SigningKey, APIKeys struct{ Synced, Connected bool }
		} `json:"api"`
	}
	if json.NewDecoder(resp.Body).Decode(&report) != nil {
		return false
	}
	for _, w := range []struct{ Synced, Connected bool }{report.API.Users, report.API.Revocations, report.API.SigningKey, report.API.APIKeys} {
		if !w.Synced || !w.Connected {
			return false
		}
	}
	return true
}

func TestTheSidecarsCredentialsCannotReadASecret(t *testing.T) {
	n := newJackNamespace(t)
	tok, err := os.ReadFile(filepath.Join(n.creds, "token"))
	must(t, err)
	cfg := *n.c.env.Config
	cfg.CertData, cfg.KeyData, cfg.BearerToken = nil, nil, string(tok)
	cs, err := kubernetes.NewForConfig(&cfg)
	must(t, err)
	ctx := context.Background()
	if _, err := cs.CoreV1().Secrets(n.name).Get(ctx, jack.UserDirectorySecretName, metav1.GetOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("the sidecar's token reads the user directory Secret (err %v)", err)
	}
	if _, err := cs.CoreV1().Secrets(n.name).List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("the sidecar's token lists Secrets (err %v)", err)
	}
	if _, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("the sidecar's token lists Secrets cluster-wide (err %v)", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(n.name).List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("the sidecar's token lists ConfigMaps (err %v)", err)
	}
}
