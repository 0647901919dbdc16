package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/apikey"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// These tests play the operator's part for JackAPIKeys — generate a value,
// publish its digest in the status — so that they show what the sidecars do
// with what the API server holds, whatever the controller does.

// issueAPIKey creates a JackAPIKey and writes its status as the operator
// would: an id and the digest of a new value, Current. It returns the value.
func (n *jackNamespace) issueAPIKey(name string, role jack.Role, id string) string {
	n.t.Helper()
	ctx := context.Background()
	k := &authv1alpha1.JackAPIKey{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: n.name}, Spec: authv1alpha1.JackAPIKeySpec{Role: authv1alpha1.Role(role)}}
	must(n.t, n.c.k8s.Create(ctx, k))
	v := newAPIKeyValue(n.t)
	k.Status = authv1alpha1.JackAPIKeyStatus{ID: id, SecretName: name + "-apikey",
		Values: []authv1alpha1.APIKeyValue{{Digest: apikey.Digest(v), Last4: apikey.Last4(v), State: authv1alpha1.APIKeyCurrent, CreatedAt: metav1.Now()}}}
	must(n.t, n.c.k8s.Status().Update(ctx, k))
	return v
}

func newAPIKeyValue(t testing.TB) string {
	t.Helper()
	v, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (n *jackNamespace) apiKey(name string) *authv1alpha1.JackAPIKey {
	n.t.Helper()
	var k authv1alpha1.JackAPIKey
	must(n.t, n.c.k8s.Get(context.Background(), types.NamespacedName{Namespace: n.name, Name: name}, &k))
	return &k
}

// keyAnswer is what a sidecar's /auth answers for a key, in Envoy's form:
// the status and the error code.
func keyAnswer(s *sidecar, value string) (int, string) {
	r := s.do("GET", "/auth/api/v1/tasks", bearer(value), "")
	return r.Status, r.Body.Error.Code
}

func keyWorks(s *sidecar, value string) bool {
	st, _ := keyAnswer(s, value)
	return st == http.StatusOK
}

func TestAnAPIKeyIsAcceptedAndRevokedAtEveryReplicaWithinTwoSeconds(t *testing.T) {
	n := newJackNamespace(t)
	a := n.startSidecar(n.apiHost(), t.TempDir())
	b := n.startSidecar(n.apiHost(), t.TempDir())
	poll.True(t, 15*time.Second, "both sidecars to list the API server", func() bool { return apiSynced(a) && apiSynced(b) })
	both := func(cond func(*sidecar) bool) func() bool {
		return func() bool { return cond(a) && cond(b) }
	}

	value := n.issueAPIKey("billing", jack.RoleStaff, "ak-billing")
	poll.Within(t, clusterMaxPropagation, "a new key works at both replicas", both(func(s *sidecar) bool { return keyWorks(s, value) }))

	// What Jack is told, and what the key may not do.
	r := a.do("GET", "/auth/api/v1/tasks/7", bearer(value), "")
	if r.Header.Get(jack.HeaderUserKind) != jack.UserKindAPIKey || r.Header.Get(jack.HeaderAPIKeyID) != "ak-billing" ||
		r.Header.Get(jack.HeaderUserID) != "apikey:ak-billing" || r.Header.Get(jack.HeaderUserRole) != "staff" {
		t.Fatalf("the identity headers of an API key: %v", r.Header)
	}
	wantError(t, b.do("GET", "/auth/api/v1/settings", bearer(value), ""), http.StatusForbidden, "FORBIDDEN")
	wantError(t, b.do("POST", "/api/v1/auth/refresh", bearer(value), ""), http.StatusForbidden, "API_KEY_NOT_ALLOWED")

	// Its last use, by the hour, on /state: what the operator gathers.
	var st jack.SidecarState
	resp, err := http.Get(a.ops + jack.SidecarStatePath)
	must(t, err)
	must(t, json.NewDecoder(resp.Body).Decode(&st))
	_ = resp.Body.Close()
	if used := st.APIKeysLastUsed["ak-billing"]; !used.Equal(time.Now().UTC().Truncate(time.Hour)) && !used.Equal(time.Now().UTC().Add(-time.Minute).Truncate(time.Hour)) {
		t.Errorf("/state's apiKeysLastUsed is %v, want the start of this hour", st.APIKeysLastUsed)
	}

	patch := func(p string) {
		must(t, n.c.k8s.Patch(context.Background(), &authv1alpha1.JackAPIKey{ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: n.name}},
			client.RawPatch(types.MergePatchType, []byte(p))))
	}
	patch(`{"spec":{"disabled":true}}`)
	poll.Within(t, clusterMaxPropagation, "a disabled key is refused by both replicas", both(func(s *sidecar) bool {
		st, code := keyAnswer(s, value)
		return st == http.StatusUnauthorized && code == "TOKEN_INVALID"
	}))
	patch(`{"spec":{"disabled":false}}`)
	poll.Within(t, clusterMaxPropagation, "a key enabled again works at both replicas", both(func(s *sidecar) bool { return keyWorks(s, value) }))
	patch(`{"spec":{"role":"admin"}}`)
	poll.Within(t, clusterMaxPropagation, "a key's new role applies at both replicas", both(func(s *sidecar) bool {
		return s.do("GET", "/auth/api/v1/settings", bearer(value), "").Status == http.StatusOK
	}))

	must(t, n.c.k8s.Delete(context.Background(), n.apiKey("billing")))
	poll.Within(t, clusterMaxPropagation, "a deleted key is refused by both replicas", both(func(s *sidecar) bool {
		st, code := keyAnswer(s, value)
		return st == http.StatusUnauthorized && code == "TOKEN_INVALID"
	}))

	// A replica that starts afterwards never accepted it.
	c := n.startSidecar(n.apiHost(), t.TempDir())
	poll.True(t, 15*time.Second, "a new sidecar to list the API server", func() bool { return apiSynced(c) })
	if keyWorks(c, value) {
		t.Fatal("a new replica accepts a deleted key")
	}
}

func TestARotatedAPIKeysOldValueWorksAtEveryReplicaUntilItsOverlapEnds(t *testing.T) {
	n := newJackNamespace(t)
	a := n.startSidecar(n.apiHost(), t.TempDir())
	b := n.startSidecar(n.apiHost(), t.TempDir())
	poll.True(t, 15*time.Second, "both sidecars to list the API server", func() bool { return apiSynced(a) && apiSynced(b) })
	both := func(cond func(*sidecar) bool) func() bool {
		return func() bool { return cond(a) && cond(b) }
	}
	old := n.issueAPIKey("export", jack.RoleManager, "ak-export")
	poll.True(t, clusterMaxPropagation, "the key to work at both replicas", both(func(s *sidecar) bool { return keyWorks(s, old) }))

	// The rotation, as the operator writes it: the new value Current, the
	// old one Previous until the overlap ends (6 s here, 24 h by default).
	k := n.apiKey("export")
	fresh := newAPIKeyValue(t)
	until := metav1.NewTime(time.Now().Add(6 * time.Second).Truncate(time.Second))
	prev := k.Status.Values[0]
	prev.State, prev.ValidUntil = authv1alpha1.APIKeyPrevious, &until
	k.Status.Values = []authv1alpha1.APIKeyValue{
		{Digest: apikey.Digest(fresh), Last4: apikey.Last4(fresh), State: authv1alpha1.APIKeyCurrent, CreatedAt: metav1.Now()}, prev}
	must(t, n.c.k8s.Status().Update(context.Background(), k))
	poll.Within(t, clusterMaxPropagation, "the new value works at both replicas", both(func(s *sidecar) bool { return keyWorks(s, fresh) }))

	// Until validUntil the old value works at both, every time.
	checks := 0
	for time.Until(until.Time) > 300*time.Millisecond {
		for _, s := range []*sidecar{a, b} {
			if !keyWorks(s, old) {
				t.Fatalf("the old value is refused %s before its overlap ends", time.Until(until.Time).Round(time.Millisecond))
			}
			checks++
		}
		time.Sleep(100 * time.Millisecond)
	}
	// From validUntil on, it is refused at both, with nobody writing
	// anything: each replica reads the end from the status it already has.
	time.Sleep(time.Until(until.Time))
	for _, s := range []*sidecar{a, b} {
		if st, code := keyAnswer(s, old); st != http.StatusUnauthorized || code != "TOKEN_EXPIRED" {
			t.Fatalf("the old value after its overlap: %d %s, want 401 TOKEN_EXPIRED", st, code)
		}
		if !keyWorks(s, fresh) {
			t.Fatal("the new value stopped working with the old one")
		}
	}
	t.Logf("the old value worked at both replicas %d times during its overlap and was refused by both from its end", checks)

	// The operator drops the previous value once its overlap has ended.
	k = n.apiKey("export")
	k.Status.Values = k.Status.Values[:1]
	must(t, n.c.k8s.Status().Update(context.Background(), k))
	poll.Within(t, clusterMaxPropagation, "the dropped value is unknown at both replicas", both(func(s *sidecar) bool {
		st, code := keyAnswer(s, old)
		return st == http.StatusUnauthorized && code == "TOKEN_INVALID"
	}))
}
