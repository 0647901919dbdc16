package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/cutproxy"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// These tests follow a session across two sidecar processes on the real API
// server, with the operator confirming as in a cluster: a refresh at one
// replica supersedes the token at both after its grace, a replaced token
// used again ends the session everywhere, a logout with any token of a
// session ends every token of it, and ending a user's sessions ends those
// refreshed since their login.

// refresh refreshes tok at s, which must succeed, and returns the new token.
func refresh(t testing.TB, s *sidecar, tok string) string {
	t.Helper()
	r := s.do("POST", "/api/v1/auth/refresh", bearer(tok), "")
	if r.Status != http.StatusOK || r.Body.Data.Token == "" {
		t.Fatalf("refresh at %s: %d %s", s.addr, r.Status, r.Raw)
	}
	return r.Body.Data.Token
}

// sessionOf is the session id (sid) a token carries, read without
// verifying: the test signed nothing, it only looks.
func sessionOf(t testing.TB, tok string) string {
	t.Helper()
	_, _, sid := claimsOf(t, tok)
	if sid == "" {
		t.Fatal("the token has no session")
	}
	return sid
}

// sessionRevocation reads the session's TokenRevocation, as kubectl get
// trev would.
func (n *jackNamespace) sessionRevocation(tok string) (*authv1alpha1.TokenRevocation, error) {
	rev := &authv1alpha1.TokenRevocation{}
	err := n.c.k8s.Get(context.Background(), types.NamespacedName{Namespace: n.name, Name: jack.SessionRevocationName(sessionOf(n.t, tok))}, rev)
	return rev, err
}

// refusal is what /auth answers a refused token.
func refusal(s *sidecar, tok string) string {
	r := s.do("GET", "/auth/api/v1/tasks", bearer(tok), "")
	return fmt.Sprintf("%d %s %s", r.Status, r.Body.Error.Code, r.Body.Error.Message)
}

const reuseRefusal = "401 TOKEN_INVALID This session was ended because a replaced token was used again. Please log in again."

func TestARefreshSupersedesTheTokenEverywhereAfterItsGraceAndItsReuseEndsTheSession(t *testing.T) {
	n := newJackNamespace(t)
	a, b := n.startSidecar(n.apiHost(), t.TempDir()), n.startSidecar(n.apiHost(), t.TempDir())
	n.registerPod("jack-a", a)
	n.registerPod("jack-b", b)
	synced(t, a, b)
	replaced := loginToken(t, a, "sam@example.com", "first password of sam")

	newest := refresh(t, b, replaced)
	refreshed := time.Now()
	// The refresh answers without waiting for the other replica; the
	// session's TokenRevocation reaches every sidecar within a second or
	// two, and the operator confirms it with both.
	rev := &authv1alpha1.TokenRevocation{}
	poll.Within(t, clusterMaxPropagation, "both sidecars to confirm the refresh", func() bool {
		var err error
		rev, err = n.sessionRevocation(newest)
		return err == nil && rev.Spec.Generation == 1 && rev.Status.ConfirmedGeneration == rev.Generation
	})
	if rev.Spec.Ended || rev.Spec.GraceUntil == nil || rev.Spec.UserID != n.userIDs["sam"] || rev.Spec.TokenID != "" || rev.Status.RefusedBy != "2/2" {
		t.Errorf("the session's TokenRevocation after a refresh: %+v %+v", rev.Spec, rev.Status)
	}
	// Within the grace both tokens work at both replicas, which both know
	// of the refresh: requests already sent with the replaced one finish.
	check := func(when string) {
		for name, s := range map[string]*sidecar{"a": a, "b": b} {
			if !verifies(s, replaced) || !verifies(s, newest) {
				t.Errorf("%s, sidecar %s refuses the replaced token (%s) or the newest (%s)", when, name, refusal(s, replaced), refusal(s, newest))
			}
		}
	}
	check("once the refresh is confirmed")
	time.Sleep(time.Until(refreshed.Add(jack.RefreshGrace - 2*time.Second)))
	check("two seconds before the grace ends")

	// The grace is rounded up to the second the TokenRevocation keeps.
	time.Sleep(time.Until(refreshed.Add(jack.RefreshGrace + time.Second + 100*time.Millisecond)))
	if got := refusal(a, replaced); got != reuseRefusal {
		t.Fatalf("the replaced token, used again after its grace: %s; want %s", got, reuseRefusal)
	}
	if got := refusal(a, newest); got != reuseRefusal {
		t.Errorf("the newest token at the replica that saw the reuse: %s; want %s", got, reuseRefusal)
	}
	poll.Within(t, time.Second, "the other replica refuses the newest token of the session ended for reuse", func() bool { return !verifies(b, newest) })
	if r := b.do("POST", "/api/v1/auth/refresh", bearer(newest), ""); r.Status != http.StatusUnauthorized || r.Body.Error.Code != "TOKEN_INVALID" {
		t.Errorf("a refresh of the newest token once the session ended: %d %s", r.Status, r.Raw)
	}
	poll.True(t, 5*time.Second, "kubectl get trev to show the session ended for reuse, confirmed by both", func() bool {
		rev, err := n.sessionRevocation(newest)
		return err == nil && rev.Spec.Ended && rev.Spec.EndedBecause == jack.SessionEndedByTokenReuse && rev.Status.ConfirmedGeneration == rev.Generation
	})

	// The audit line names the revocation and the user, never a token or
	// the session's id.
	log := a.logText()
	if !strings.Contains(log, "used again after its grace") || !strings.Contains(log, jack.SessionRevocationName(sessionOf(t, newest))) {
		t.Errorf("no audit line of the reuse at the replica that saw it; its log:\n%s", log)
	}
	for _, s := range []*sidecar{a, b} {
		for _, secret := range []string{replaced, newest, sessionOf(t, newest)} {
			if strings.Contains(s.logText(), secret) {
				t.Errorf("a sidecar's log quotes a token or a session id")
			}
		}
	}
}

func TestALogoutWithAnyTokenOfASessionIsRefusedEverywhereOnceItAnswers(t *testing.T) {
	n := newJackNamespace(t)
	accounts, sidecars := n.twoConfirmingReplicas()

	const rounds = 20
	var took []time.Duration
	accepted := 0
	for i := range rounds {
		one, other := sidecars[i%2], sidecars[(i+1)%2]
		acct := accounts[i%len(accounts)]
		// Log in at one replica, refresh at the other, and there again
		// at the first: three tokens of one session, each replica having
		// refreshed it, before it has heard of the other's refresh.
		first := loginFrom(t, one, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), acct.email, acct.pw)
		middle := refresh(t, other, first)
		newest := refresh(t, one, middle)

		start := time.Now()
		r := other.do("POST", "/api/v1/auth/logout", bearer(middle), "")
		took = append(took, time.Since(start))
		if r.Status != http.StatusOK || r.Raw != `{"success":true,"data":{"message":"Logged out."}}`+"\n" {
			t.Fatalf("round %d: the logout with the middle token: %d %s", i+1, r.Status, r.Raw)
		}
		// At once, no poll: a 200 promises that every replica refuses
		// every token of the session.
		for j, s := range sidecars {
			for name, tok := range map[string]string{"login's": first, "middle": middle, "newest": newest} {
				if verifies(s, tok) {
					accepted++
					t.Errorf("round %d: sidecar %d accepts the %s token right after the logout answered 200", i+1, j, name)
				}
			}
		}
		if i == rounds-1 {
			// The first replica's refresh reaches the API server after its
			// answer, possibly after the logout's: the spec ends with both,
			// whichever came first.
			var rev *authv1alpha1.TokenRevocation
			poll.True(t, 5*time.Second, "the session's TokenRevocation to hold the logout and both refreshes, confirmed", func() bool {
				var err error
				rev, err = n.sessionRevocation(newest)
				return err == nil && rev.Spec.Generation == 2 && rev.Status.ConfirmedGeneration == rev.Generation
			})
			c := meta.FindStatusCondition(rev.Status.Conditions, authv1alpha1.ConditionConfirmed)
			if !rev.Spec.Ended || rev.Spec.EndedBecause != jack.SessionEndedByLogout || rev.Status.RefusedBy != "2/2" || c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("the session's TokenRevocation after its logout: spec %+v, status %+v", rev.Spec, rev.Status)
			}
		}
	}
	slices.Sort(took)
	t.Logf("%d sessions refreshed at both replicas and logged out with their middle token, every token used at once at both: %d accepted; logout latency p50 %s, max %s",
		rounds, accepted, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))

	// One TokenRevocation a session, whatever was refreshed or logged out.
	var revs authv1alpha1.TokenRevocationList
	must(t, n.c.k8s.List(context.Background(), &revs, client.InNamespace(n.name)))
	if len(revs.Items) != rounds {
		t.Errorf("%d TokenRevocations after %d sessions", len(revs.Items), rounds)
	}
}

func TestEndingAUsersSessionsEndsThoseRefreshedSinceTheirLogin(t *testing.T) {
	n := newJackNamespace(t)
	proxy := cutproxy.Start(t, n.apiHost())
	a := n.startSidecar(n.apiHost(), t.TempDir())
	lagging := n.startSidecar(proxy.Addr(), t.TempDir(), "--logout-confirm-timeout=1s")
	synced(t, a, lagging)
	tok := loginToken(t, a, "sam@example.com", "first password of sam")
	// Tokens carry whole seconds, and the end is rounded up to one: keep
	// the login in an earlier second than the end.
	time.Sleep(time.Second)
	refreshed := refresh(t, lagging, tok)

	// The lagging replica is cut off from the API server: it will not
	// learn of the end until it is back.
	proxy.Cut()
	n.patchUser("sam", `{"metadata":{"annotations":{"`+jack.AnnotationEndSessions+`":"1"}}}`)
	poll.Within(t, clusterMaxPropagation, "the replica in touch refuses the login's token and the one refreshed since", func() bool {
		return !verifies(a, tok) && !verifies(a, refreshed)
	})
	for name, tok := range map[string]string{"the login's token": tok, "the token refreshed after the login": refreshed} {
		if got := refusal(a, tok); !strings.HasPrefix(got, "401 TOKEN_EXPIRED") {
			t.Errorf("%s: %s, want TOKEN_EXPIRED", name, got)
		}
	}
	// The lagging replica, which has not heard, refreshes the session
	// after its end: the new token is issued after sessionsValidAfter, but
	// its session began before, and that is what counts.
	var u authv1alpha1.JackUser
	must(t, n.c.k8s.Get(context.Background(), types.NamespacedName{Namespace: n.name, Name: "sam"}, &u))
	time.Sleep(time.Until(u.Status.SessionsValidAfter.Add(time.Second)))
	late := refresh(t, lagging, refreshed)
	if got := refusal(a, late); !strings.HasPrefix(got, "401 TOKEN_EXPIRED") {
		t.Errorf("a token refreshed after the end by a replica that had not heard of it: %s at the replica that had, want TOKEN_EXPIRED", got)
	}
	if fresh := loginToken(t, a, "sam@example.com", "first password of sam"); !verifies(a, fresh) {
		t.Error("a login after the end is refused")
	}

	proxy.Restore()
	// Its watches back off up to 10 s between attempts.
	poll.Within(t, 15*time.Second, "the replica back in touch refuses every token of the ended session", func() bool {
		return !verifies(lagging, tok) && !verifies(lagging, refreshed) && !verifies(lagging, late)
	})
}

// shortenSessions brings the kubelet a key ring whose sessions last
// lifetime: the SigningKey's own floor is an hour, which no test waits for,
// and the sidecars read the lifetime from the ring alone.
func (n *jackNamespace) shortenSessions(lifetime time.Duration) {
	n.t.Helper()
	data := n.secret("jack-jwt")
	var ring map[string]any
	must(n.t, json.Unmarshal(data[jack.SecretKeyKeyRing], &ring))
	ring["sessionLifetimeSeconds"] = int64(lifetime / time.Second)
	edited, err := json.Marshal(ring)
	must(n.t, err)
	data[jack.SecretKeyKeyRing] = edited
	n.keys.Update(data)
}

// claimsOf reads a token's times and session without verifying it.
func claimsOf(t testing.TB, tok string) (exp, authTime time.Time, sid string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatal("not a JWT")
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	must(t, err)
	var c struct {
		Exp      int64  `json:"exp"`
		AuthTime int64  `json:"auth_time"`
		SID      string `json:"sid"`
	}
	must(t, json.Unmarshal(data, &c))
	return time.Unix(c.Exp, 0), time.Unix(c.AuthTime, 0), c.SID
}

func TestASessionEndsAtItsLifetimeAtEveryReplica(t *testing.T) {
	const lifetime = 6 * time.Second
	n := newJackNamespace(t)
	n.shortenSessions(lifetime)
	a, b := n.startSidecar(n.apiHost(), t.TempDir()), n.startSidecar(n.apiHost(), t.TempDir())
	n.registerPod("jack-a", a)
	n.registerPod("jack-b", b)
	synced(t, a, b)

	tok := loginToken(t, a, "sam@example.com", "first password of sam")
	exp, login, sid := claimsOf(t, tok)
	end := login.Add(lifetime)
	if exp.After(end) {
		t.Errorf("the login's token expires at %v, after its session's end %v", exp, end)
	}
	// Refreshed at the other replica, then back: the same session, the
	// same login time, and no token outlives the session's end.
	time.Sleep(time.Second)
	next := refresh(t, b, tok)
	last := refresh(t, a, next)
	for name, tok := range map[string]string{"refreshed at the other replica": next, "refreshed again at the first": last} {
		exp, auth, s := claimsOf(t, tok)
		if s != sid || !auth.Equal(login) || exp.After(end) {
			t.Errorf("the token %s: session %t, login time %v (want %v), expires %v (the session ends %v)", name, s == sid, auth, login, exp, end)
		}
	}

	// After the end, refresh answers TOKEN_EXPIRED at both replicas and
	// issues nothing, however recently the token was refreshed.
	time.Sleep(time.Until(end.Add(100 * time.Millisecond)))
	for name, s := range map[string]*sidecar{"a": a, "b": b} {
		r := s.do("POST", "/api/v1/auth/refresh", bearer(last), "")
		if r.Status != http.StatusUnauthorized || r.Body.Error.Code != "TOKEN_EXPIRED" || r.Body.Data.Token != "" {
			t.Errorf("a refresh at sidecar %s after the session's end: %d %s, want 401 TOKEN_EXPIRED", name, r.Status, r.Raw)
		}
	}
	rev, err := n.sessionRevocation(last)
	must(t, err)
	if rev.Spec.Generation != 2 || rev.Spec.Ended {
		t.Errorf("the session's TokenRevocation after refreshes past its end: generation %d, ended %t; want 2 and not ended", rev.Spec.Generation, rev.Spec.Ended)
	}
	// A new login starts a new session with its own lifetime.
	fresh := loginToken(t, b, "sam@example.com", "first password of sam")
	if _, auth, s := claimsOf(t, fresh); s == sid || !auth.After(login) {
		t.Errorf("a login after the end continues the old session (same id %t, login %v)", s == sid, auth)
	}
	if !verifies(a, fresh) {
		t.Errorf("the other replica refuses a new session's token: %s", refusal(a, fresh))
	}
}
