package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// These tests put the operator on the logout's path, as in a cluster: each
// sidecar process is registered as a ready injected pod whose ops port is
// the process's, so the operator's TokenRevocation and SessionsEnd
// reconcilers ask the real sidecars to confirm, and a logout answers only
// once they all have.

// registerPod makes s one of the SigningKey's ready injected pods as the
// webhook and the kubelet leave them: opted in, annotated as injected, a
// jack-auth container serving --signing-key=jack with its ops port named
// jack-auth-ops, and a status with the pod's address (loopback, where the
// process listens) and the sidecar ready.
func (n *jackNamespace) registerPod(name string, s *sidecar) {
	n.t.Helper()
	u, err := url.Parse(s.ops)
	must(n.t, err)
	port, err := strconv.Atoi(u.Port())
	must(n.t, err)
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: n.name,
			Labels:      map[string]string{jack.LabelInject: jack.InjectRequested},
			Annotations: map[string]string{jack.AnnotationInjectedVersion: "test"},
		},
		Spec: corev1.PodSpec{ServiceAccountName: "jack-app", Containers: []corev1.Container{
			{Name: jack.SidecarContainerName, Image: "jack-auth:test", Args: []string{"serve", "--signing-key=jack"},
				Ports: []corev1.ContainerPort{{Name: jack.SidecarOpsPortName, ContainerPort: int32(port)}}},
			{Name: "jack", Image: "jack:test"},
		}},
	}
	must(n.t, n.c.k8s.Create(ctx, p))
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: "127.0.0.1",
		ContainerStatuses: []corev1.ContainerStatus{{Name: jack.SidecarContainerName, Ready: true}, {Name: "jack", Ready: true}},
	}
	must(n.t, n.c.k8s.Status().Update(ctx, p))
}

// addUser creates a JackUser with its password Secret and waits until the
// operator has put them in the user directory; syncVolumes brings it to
// the sidecars.
func (n *jackNamespace) addUser(name string, role jack.Role) (email, pw string) {
	n.t.Helper()
	email, pw = name+"@example.com", "first password of "+name
	n.setPassword(name+"-pw", pw)
	must(n.t, n.c.k8s.Create(context.Background(), &authv1alpha1.JackUser{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: n.name},
		Spec: authv1alpha1.JackUserSpec{Email: email, Name: name, Role: role,
			PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: name + "-pw"}},
	}))
	poll.True(n.t, 15*time.Second, "the operator to put "+name+" in the user directory", func() bool {
		d, err := userdir.Decode(n.secret(jack.UserDirectorySecretName)[jack.SecretKeyUserDirectory])
		if err != nil {
			return false
		}
		_, ok := d.Index().ByEmail(email)
		return ok
	})
	return email, pw
}

// loginFrom logs in as a client at addr, reported by the gateway in front
// (the sidecars trust 127.0.0.1 as one): logins are throttled per client,
// and a loop of a hundred from one address would be.
func loginFrom(t testing.TB, s *sidecar, client, email, pw string) string {
	t.Helper()
	r := s.do("POST", "/api/v1/auth/login", map[string]string{"Content-Type": "application/json", "X-Forwarded-For": client},
		fmt.Sprintf(`{"email":%q,"password":%q}`, email, pw))
	if r.Status != http.StatusOK {
		t.Fatalf("login of %s at %s: %d %s", email, s.addr, r.Status, r.Raw)
	}
	return r.Body.Data.Token
}

// synced waits until every sidecar has listed and watches all three
// collections, as a ready pod of a cluster has.
func synced(t testing.TB, sidecars ...*sidecar) {
	t.Helper()
	for _, s := range sidecars {
		poll.True(t, 15*time.Second, "the sidecar to list and watch the API server", func() bool { return apiSynced(s) })
	}
}

func TestALogoutAnswersOnlyOnceEveryReplicaRefusesTheToken(t *testing.T) {
	n := newJackNamespace(t)
	accounts, sidecars := n.twoConfirmingReplicas()

	const logouts = 100
	var took []time.Duration
	accepted := 0
	for i := range logouts {
		in, out := sidecars[i%2], sidecars[(i+1)%2]
		acct := accounts[(i/2)%len(accounts)]
		tok := loginFrom(t, in, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), acct.email, acct.pw)
		start := time.Now()
		r := out.do("POST", "/api/v1/auth/logout", bearer(tok), "")
		took = append(took, time.Since(start))
		if r.Status != http.StatusOK || r.Raw != `{"success":true,"data":{"message":"Logged out."}}`+"\n" {
			t.Fatalf("logout %d: %d %s", i+1, r.Status, r.Raw)
		}
		// At once, no poll: a 200 promises that every replica refuses it.
		for j, s := range sidecars {
			if verifies(s, tok) {
				accepted++
				t.Errorf("logout %d: sidecar %d accepts the token right after the logout answered 200", i+1, j)
			}
		}
	}
	slices.Sort(took)
	t.Logf("%d logouts, each at the replica that did not log in, the token used at once at both: %d accepted; logout latency p50 %s, p99 %s, max %s",
		logouts, accepted, took[len(took)/2].Round(time.Millisecond), took[len(took)*99/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))

	// What kubectl shows of the last one.
	var revs authv1alpha1.TokenRevocationList
	must(t, n.c.k8s.List(context.Background(), &revs, client.InNamespace(n.name)))
	if len(revs.Items) != logouts {
		t.Fatalf("%d TokenRevocations after %d logouts", len(revs.Items), logouts)
	}
	for _, rev := range revs.Items {
		c := meta.FindStatusCondition(rev.Status.Conditions, authv1alpha1.ConditionConfirmed)
		if rev.Status.ConfirmedGeneration != rev.Generation || rev.Status.RefusedBy != "2/2" || c == nil || c.Status != metav1.ConditionTrue {
			t.Fatalf("TokenRevocation %s: status %+v; want confirmed at generation %d by 2/2", rev.Name, rev.Status, rev.Generation)
		}
	}
}

func TestALogoutWithAFrozenReplicaAnswersUnconfirmedThenSucceedsOnceItIsBack(t *testing.T) {
	n := newJackNamespace(t)
	a := n.startSidecar(n.apiHost(), t.TempDir(), "--logout-confirm-timeout=2s")
	b := n.startSidecar(n.apiHost(), t.TempDir())
	frozen := n.startSidecar(n.apiHost(), t.TempDir())
	for name, s := range map[string]*sidecar{"jack-a": a, "jack-b": b, "jack-frozen": frozen} {
		n.registerPod(name, s)
	}
	synced(t, a, b, frozen)
	tok := loginToken(t, b, "sam@example.com", "first password of sam")

	// Stopped, the process still has its sockets: the operator's question
	// is accepted by the kernel and never answered, as with a hung pod.
	must(t, frozen.cmd.Process.Signal(syscall.SIGSTOP))
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			must(t, frozen.cmd.Process.Signal(syscall.SIGCONT))
		}
	}
	t.Cleanup(resume) // before the process is stopped for good

	start := time.Now()
	r := a.do("POST", "/api/v1/auth/logout", bearer(tok), "")
	took := time.Since(start)
	wantError(t, r, http.StatusServiceUnavailable, "LOGOUT_UNCONFIRMED")
	if r.Header.Get("Retry-After") != "1" || !strings.Contains(r.Body.Error.Message, "not every replica has confirmed") {
		t.Errorf("the unconfirmed logout says %q with Retry-After %q", r.Body.Error.Message, r.Header.Get("Retry-After"))
	}
	if took < 2*time.Second || took > 4*time.Second {
		t.Errorf("the unconfirmed logout answered after %s; want after --logout-confirm-timeout=2s", took)
	}
	t.Logf("a logout with a frozen replica answered %d %s after %s", r.Status, r.Body.Error.Code, took.Round(time.Millisecond))
	// The two replicas that answer refuse the token: the revocation was
	// created, and the operator's round found both holding it.
	for name, s := range map[string]*sidecar{"a": a, "b": b} {
		if verifies(s, tok) {
			t.Errorf("sidecar %s accepts the token after the logout answered 503", name)
		}
	}
	rev := &authv1alpha1.TokenRevocation{}
	poll.True(t, 10*time.Second, "the TokenRevocation to show the frozen sidecar as not confirming", func() bool {
		must(t, n.c.k8s.Get(context.Background(), types.NamespacedName{Namespace: n.name, Name: revocationNameOf(t, tok)}, rev))
		c := meta.FindStatusCondition(rev.Status.Conditions, authv1alpha1.ConditionConfirmed)
		return rev.Status.RefusedBy == "2/3" && c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "jack-frozen")
	})
	if rev.Status.ConfirmedGeneration != 0 {
		t.Fatalf("the revocation is confirmed with a sidecar frozen: %+v", rev.Status)
	}

	// Back, the replica confirms at the operator's next round, and the
	// logout, repeated with the same token, succeeds.
	resume()
	var again response
	poll.Within(t, 15*time.Second, "a repeated logout of the token answers 200 once the frozen replica is back", func() bool {
		again = a.do("POST", "/api/v1/auth/logout", bearer(tok), "")
		return again.Status == http.StatusOK
	})
	if again.Raw != `{"success":true,"data":{"message":"Logged out."}}`+"\n" {
		t.Errorf("the repeated logout answered %s", again.Raw)
	}
	for name, s := range map[string]*sidecar{"a": a, "b": b, "frozen": frozen} {
		if verifies(s, tok) {
			t.Errorf("sidecar %s accepts the token once the logout answered 200", name)
		}
	}
	// A logout confirmed already answers at once.
	start = time.Now()
	if r := b.do("POST", "/api/v1/auth/logout", bearer(tok), ""); r.Status != http.StatusOK || time.Since(start) > time.Second {
		t.Errorf("a logout of a confirmed token at another replica: %d %s after %s; want 200 at once", r.Status, r.Raw, time.Since(start))
	}
}

// revocationNameOf is the name of the TokenRevocation a logout of a token
// writes: its session's, a digest of the session id (sid).
func revocationNameOf(t testing.TB, tok string) string {
	t.Helper()
	return jack.SessionRevocationName(sessionOf(t, tok))
}

func TestEndingAUsersSessionsIsConfirmedByEverySidecar(t *testing.T) {
	n := newJackNamespace(t)
	a, b := n.startSidecar(n.apiHost(), t.TempDir()), n.startSidecar(n.apiHost(), t.TempDir())
	n.registerPod("jack-a", a)
	n.registerPod("jack-b", b)
	synced(t, a, b)
	tok := loginToken(t, a, "sam@example.com", "first password of sam")
	// Tokens carry whole seconds, and the end is rounded up to one: keep
	// the token in an earlier second than the end.
	time.Sleep(time.Second)

	must(t, n.c.k8s.Patch(context.Background(), &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "sam", Namespace: n.name}},
		client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+jack.AnnotationEndSessions+`":"1"}}}`))))
	var u authv1alpha1.JackUser
	// kubectl wait jackuser/sam --for=condition=SessionsEnded
	poll.Within(t, 10*time.Second, "the JackUser's SessionsEnded condition to be True", func() bool {
		must(t, n.c.k8s.Get(context.Background(), types.NamespacedName{Namespace: n.name, Name: "sam"}, &u))
		c := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionSessionsEnded)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == u.Generation
	})
	if u.Status.SessionsValidAfter == nil || u.Status.SessionsEndConfirmed == nil || !u.Status.SessionsEndConfirmed.Equal(u.Status.SessionsValidAfter) {
		t.Errorf("status: sessionsValidAfter %v, sessionsEndConfirmed %v; want them equal", u.Status.SessionsValidAfter, u.Status.SessionsEndConfirmed)
	}
	for name, s := range map[string]*sidecar{"a": a, "b": b} {
		if verifies(s, tok) {
			t.Errorf("sidecar %s accepts a token from before the end of sessions once the condition is True", name)
		}
	}
}

// TestALoginRightAfterTheSessionsEndedWorksAtEveryReplica is what
// kubectl jack user end-sessions --wait and a user logging in again at
// once do: the end is rounded up to the second and login times are whole
// seconds, so a login in the second the sessions ended used to start a
// session every replica refused. Each round logs in the moment the
// replica refuses the old token, and the new token must work at both.
func TestALoginRightAfterTheSessionsEndedWorksAtEveryReplica(t *testing.T) {
	n := newJackNamespace(t)
	a, b := n.startSidecar(n.apiHost(), t.TempDir()), n.startSidecar(n.apiHost(), t.TempDir())
	n.registerPod("jack-a", a)
	n.registerPod("jack-b", b)
	synced(t, a, b)
	const email, pw = "sam@example.com", "first password of sam"
	tok := loginToken(t, a, email, pw)
	time.Sleep(time.Second) // the first login in a second before the first end

	for round := range 5 {
		n.patchUser("sam", fmt.Sprintf(`{"metadata":{"annotations":{"%s":"round-%d"}}}`, jack.AnnotationEndSessions, round))
		// As soon as the replica logged in at has heard: no wait for the
		// second to pass, which is what the test is about.
		poll.Within(t, clusterMaxPropagation, fmt.Sprintf("round %d: b refuses the previous session's token", round), func() bool {
			return !verifies(b, tok)
		})
		start := time.Now()
		fresh := loginToken(t, b, email, pw)
		held := time.Since(start)
		for name, s := range map[string]*sidecar{"a": a, "b": b} {
			if !verifies(s, fresh) {
				t.Errorf("round %d: sidecar %s refuses a login made after the sessions ended: %s", round, name, refusal(s, fresh))
			}
		}
		if held > 3*time.Second {
			t.Errorf("round %d: the login took %s", round, held)
		}
		tok = fresh
	}
}

// account is a user the loops log in as.
type account struct{ email, pw string }

// twoConfirmingReplicas starts two sidecars behind a trusted gateway on
// 127.0.0.1, registered as ready injected pods so that the operator asks
// them to confirm, and four users: refreshes and logouts are throttled per
// user (20 at once), so loops of many share them.
func (n *jackNamespace) twoConfirmingReplicas() ([]account, []*sidecar) {
	n.t.Helper()
	accounts := []account{{"sam@example.com", "first password of sam"}, {"ada@example.com", "first password of ada"}}
	for _, name := range []string{"kim", "lou"} {
		email, pw := n.addUser(name, jack.RoleStaff)
		accounts = append(accounts, account{email, pw})
	}
	n.syncVolumes()
	gateway := "--trusted-proxies=127.0.0.1"
	sidecars := []*sidecar{n.startSidecar(n.apiHost(), n.t.TempDir(), gateway), n.startSidecar(n.apiHost(), n.t.TempDir(), gateway)}
	n.registerPod("jack-a", sidecars[0])
	n.registerPod("jack-b", sidecars[1])
	synced(n.t, sidecars...)
	return accounts, sidecars
}

// propagation is the JackUser's Propagated condition and whether the status
// says the current password is confirmed at the current generation, as
// kubectl jack user add|passwd --wait reads it.
func (n *jackNamespace) propagation(name string) (*metav1.Condition, bool, *authv1alpha1.JackUser) {
	n.t.Helper()
	var u authv1alpha1.JackUser
	must(n.t, n.c.k8s.Get(context.Background(), types.NamespacedName{Namespace: n.name, Name: name}, &u))
	c := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionPropagated)
	done := c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == u.Generation &&
		u.Status.PasswordVersion != "" && u.Status.PropagatedPasswordVersion == u.Status.PasswordVersion
	return c, done, &u
}

// askLogin asks s's ops port, as the operator does, whether it logs u in
// with their current password, without waiting.
func askLogin(t *testing.T, s *sidecar, u *authv1alpha1.JackUser) bool {
	t.Helper()
	q := url.Values{"login": {u.Name}, "id": {u.Status.ID}, "email": {u.Spec.Email}, "passwordVersion": {u.Status.PasswordVersion}}
	resp, err := http.Get(s.ops + jack.SidecarConfirmPath + "?" + q.Encode())
	must(t, err)
	defer func() { _ = resp.Body.Close() }()
	var c jack.Confirmation
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&c) != nil {
		t.Fatalf("/confirm of a login answered %d", resp.StatusCode)
	}
	return c.Held
}

// TestANewUserOrPasswordIsPropagatedOnceEverySidecarLoadedTheDirectory: a
// JackUser is Ready at once, but its login works only once the kubelet has
// brought the directory to the sidecars; Propagated says when, and once it
// is True a login works at every replica at once.
func TestANewUserOrPasswordIsPropagatedOnceEverySidecarLoadedTheDirectory(t *testing.T) {
	n := newJackNamespace(t)
	a, b := n.startSidecar(n.apiHost(), t.TempDir()), n.startSidecar(n.apiHost(), t.TempDir())
	n.registerPod("jack-a", a)
	n.registerPod("jack-b", b)
	synced(t, a, b)

	email, pw := n.addUser("eve", jack.RoleStaff)
	var u *authv1alpha1.JackUser
	poll.True(t, 10*time.Second, "eve's Propagated condition to name both sidecars as not confirming", func() bool {
		c, _, got := n.propagation("eve")
		u = got
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == authv1alpha1.ReasonAwaitingSidecars &&
			strings.Contains(c.Message, "jack-a") && strings.Contains(c.Message, "jack-b")
	})
	for name, s := range map[string]*sidecar{"a": a, "b": b} {
		if askLogin(t, s, u) {
			t.Errorf("sidecar %s confirms eve's login before the kubelet brought the directory", name)
		}
		wantError(t, s.login(email, pw), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}

	// The kubelet swaps the directory in: the sidecars' waits end, and the
	// operator says so within its next round.
	n.syncVolumes()
	poll.Within(t, 10*time.Second, "eve's Propagated condition to be True", func() bool { _, done, _ := n.propagation("eve"); return done })
	// At once, no poll: True promises every replica logs her in.
	for _, s := range []*sidecar{a, b} {
		loginToken(t, s, email, pw)
	}

	// A new password: False again until the directory with its hash
	// arrives, and then it logs in everywhere at once.
	n.setPassword("eve-pw", "second password of eve")
	poll.Within(t, 10*time.Second, "eve's Propagated condition to be False for the new password", func() bool {
		c, _, got := n.propagation("eve")
		return got.Status.PasswordVersion != u.Status.PasswordVersion && c != nil && c.Status == metav1.ConditionFalse &&
			got.Status.PropagatedPasswordVersion == ""
	})
	wantError(t, a.login(email, "second password of eve"), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	n.syncVolumes()
	poll.Within(t, 10*time.Second, "eve's Propagated condition to be True for the new password", func() bool { _, done, _ := n.propagation("eve"); return done })
	for _, s := range []*sidecar{a, b} {
		loginToken(t, s, email, "second password of eve")
	}
}
