package kube_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/cutproxy"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

var readWatch = allow("", "configmaps", "list", "watch")

// putConfigMap creates or updates a ConfigMap as a user with kubectl would.
func putConfigMap(t *testing.T, ns, name string, labels map[string]string, v string) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(cm), cm); err == nil {
		cm.Data = map[string]string{"v": v}
		if err := k8s.Update(ctx, cm); err != nil {
			t.Fatalf("updating ConfigMap %s: %v", name, err)
		}
		return
	}
	cm.Labels, cm.Data = labels, map[string]string{"v": v}
	create(t, cm)
}

func deleteConfigMap(t *testing.T, ns, name string) {
	t.Helper()
	if err := k8s.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}); err != nil {
		t.Fatalf("deleting ConfigMap %s: %v", name, err)
	}
}

var jackApp = map[string]string{"app": "jack"}

func TestReflectorHandsOverTheListThenEveryChange(t *testing.T) {
	id := newIdentity(t, readWatch)
	putConfigMap(t, id.ns, "alice", jackApp, "1")
	putConfigMap(t, id.ns, "bob", jackApp, "1")
	putConfigMap(t, id.ns, "carol", map[string]string{"app": "other"}, "1")

	s := configMapStore()
	r := kube.NewReflector(id.client(t), kube.ListWatch{
		Path: kube.CollectionPath("", "v1", id.ns, "configmaps"), LabelSelector: "app=jack",
	}, s)
	if st := r.Status(); st.Synced || st.Connected {
		t.Errorf("before Run the status is %+v; want neither synced nor connected", st)
	}
	start := time.Now()
	run(t, r)
	poll.True(t, settle, "the list is handed over", func() bool { return r.Status().Synced })
	if got, want := s.view(dataV), map[string]string{"alice": "1", "bob": "1"}; !maps.Equal(got, want) {
		t.Fatalf("after the list the handler holds %v; want %v (carol's label does not match)", got, want)
	}

	putConfigMap(t, id.ns, "dave", jackApp, "1")
	putConfigMap(t, id.ns, "alice", nil, "2")
	deleteConfigMap(t, id.ns, "bob")
	putConfigMap(t, id.ns, "erin", map[string]string{"app": "other"}, "1")
	poll.True(t, settle, "the changes arrive", holds(s, dataV, map[string]string{"alice": "2", "dave": "1"}))

	replaces, events := s.counts()
	if want := []string{"upsert dave", "upsert alice", "delete bob"}; replaces != 1 || !slices.Equal(events, want) {
		t.Errorf("the handler got %d lists and events %v; want 1 list and %v", replaces, events, want)
	}
	st := r.Status()
	if !st.Synced || !st.Connected || st.LastContact.Before(start) || st.ResourceVersion == "" || st.Failures != 0 || st.LastError != "" {
		t.Errorf("the status is %+v; want synced, connected, in contact since the start, no failure", st)
	}
}

func TestReflectorResumesTheWatchesTheServerEnds(t *testing.T) {
	id := newIdentity(t, readWatch)
	putConfigMap(t, id.ns, "alice", jackApp, "1")
	s := configMapStore()
	r := kube.NewReflector(id.client(t), kube.ListWatch{
		Path: kube.CollectionPath("", "v1", id.ns, "configmaps"), MinWatchTimeout: time.Second,
	}, s)
	run(t, r)
	poll.True(t, settle, "the list is handed over", func() bool { return r.Status().Synced })

	// Each watch asks the server to end it within 1–2 s: by now it has
	// ended one at least, and the changes still arrive.
	for i, v := range []string{"2", "3"} {
		time.Sleep(1500 * time.Millisecond)
		putConfigMap(t, id.ns, "alice", nil, v)
		poll.True(t, settle, "change "+strings.Repeat("I", i+1)+" arrives", holds(s, dataV, map[string]string{"alice": v}))
	}
	if replaces, _ := s.counts(); replaces != 1 {
		t.Errorf("the handler got %d lists; want 1: a watch the server ends resumes without a list", replaces)
	}
	if st := r.Status(); st.Failures != 0 || !st.Connected {
		t.Errorf("the status is %+v; want connected, without failures", st)
	}
}

func TestReflectorKeepsTheLastStateWhileTheAPIServerIsAwayAndCatchesUp(t *testing.T) {
	id := newIdentity(t, readWatch)
	putConfigMap(t, id.ns, "alice", jackApp, "1")
	putConfigMap(t, id.ns, "bob", jackApp, "1")

	apiServer, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := cutproxy.Start(t, apiServer.Host)
	cfg := id.config()
	cfg.Host = "https://" + proxy.Addr()
	s := configMapStore()
	r := kube.NewReflector(newClient(t, cfg), kube.ListWatch{Path: kube.CollectionPath("", "v1", id.ns, "configmaps")}, s)
	run(t, r)
	poll.True(t, settle, "the list is handed over", func() bool { return r.Status().Synced })

	proxy.Cut()
	poll.True(t, settle, "the reflector notices", func() bool { return !r.Status().Connected })
	lost := r.Status()
	if !lost.Synced || lost.Failures == 0 || !strings.Contains(lost.LastError, "cannot be reached") {
		t.Errorf("with the API server away the status is %+v; want still synced, a failure that says the server cannot be reached", lost)
	}
	putConfigMap(t, id.ns, "alice", nil, "2")
	deleteConfigMap(t, id.ns, "bob")
	putConfigMap(t, id.ns, "carol", jackApp, "1")
	time.Sleep(time.Second)
	if got, want := s.view(dataV), map[string]string{"alice": "1", "bob": "1"}; !maps.Equal(got, want) {
		t.Errorf("with the API server away the handler holds %v; want the last state %v", got, want)
	}
	if st := r.Status(); !st.LastContact.Equal(lost.LastContact) || st.Failures <= lost.Failures {
		t.Errorf("with the API server away the status went from %+v to %+v; want no new contact and more failures", lost, st)
	}

	proxy.Restore()
	poll.True(t, settle, "the reflector catches up", holds(s, dataV, map[string]string{"alice": "2", "carol": "1"}))
	if st := r.Status(); !st.Connected || !st.LastContact.After(lost.LastContact) {
		t.Errorf("after the API server returned the status is %+v; want connected, in contact again", st)
	}
	// The outage was short enough for the API server to still hold the
	// changes since the last version seen: the watch resumed and replayed
	// them, with no new list.
	if replaces, events := s.counts(); replaces != 1 || !slices.Contains(events, "delete bob") {
		t.Errorf("the handler got %d lists and events %v; want 1 list and bob's deletion as an event", replaces, events)
	}
}

func TestReflectorWaitsForPermissionAndSaysWhyMeanwhile(t *testing.T) {
	id := newIdentity(t)
	putConfigMap(t, id.ns, "alice", jackApp, "1")
	s := configMapStore()
	r := kube.NewReflector(id.client(t), kube.ListWatch{Path: kube.CollectionPath("", "v1", id.ns, "configmaps")}, s)
	run(t, r)
	poll.True(t, settle, "the refusal shows in the status", func() bool { return r.Status().Failures > 0 })
	if st := r.Status(); st.Synced || st.Connected || !strings.Contains(st.LastError, "forbidden") || !strings.Contains(st.LastError, "403") {
		t.Errorf("without permission the status is %+v; want not synced, not connected, the 403 in LastError", st)
	}

	id.grant(t, "late", readWatch)
	poll.True(t, settle, "the list is handed over once permitted", holds(s, dataV, map[string]string{"alice": "1"}))
	if st := r.Status(); !st.Synced || !st.Connected {
		t.Errorf("once permitted the status is %+v; want synced and connected", st)
	}
}

// jackUser is the part of a JackUser the sidecar reads.
type jackUser struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		Email    string    `json:"email"`
		Role     jack.Role `json:"role"`
		Disabled bool      `json:"disabled"`
	} `json:"spec"`
}

func TestReflectorKeepsJackUsersCurrent(t *testing.T) {
	id := newIdentity(t, allow(authv1alpha1.GroupVersion.Group, "jackusers", "list", "watch"))
	ctx := context.Background()
	newUser := func(name string, role jack.Role) *authv1alpha1.JackUser {
		return &authv1alpha1.JackUser{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: id.ns},
			Spec: authv1alpha1.JackUserSpec{
				Email: name + "@example.com", Name: name, Role: role,
				PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: name + "-password"},
			},
		}
	}
	alice := newUser("alice", jack.RoleAdmin)
	create(t, alice)

	s := newStore(func(u jackUser) string { return u.Metadata.Name })
	describe := func(u jackUser) string {
		return fmt.Sprintf("%s %s disabled=%t", u.Spec.Email, u.Spec.Role, u.Spec.Disabled)
	}
	r := kube.NewReflector(id.client(t), kube.ListWatch{
		Path: kube.CollectionPath(authv1alpha1.GroupVersion.Group, authv1alpha1.GroupVersion.Version, id.ns, "jackusers"),
	}, s)
	run(t, r)
	poll.True(t, settle, "alice is listed", holds(s, describe, map[string]string{"alice": "alice@example.com admin disabled=false"}))

	create(t, newUser("bob", jack.RoleStaff))
	alice.Spec.Role, alice.Spec.Disabled = jack.RoleManager, true
	if err := k8s.Update(ctx, alice); err != nil {
		t.Fatal(err)
	}
	poll.True(t, settle, "bob's creation and alice's demotion arrive", holds(s, describe, map[string]string{
		"alice": "alice@example.com manager disabled=true", "bob": "bob@example.com staff disabled=false",
	}))
	if err := k8s.Delete(ctx, alice); err != nil {
		t.Fatal(err)
	}
	poll.True(t, settle, "alice's deletion arrives", holds(s, describe, map[string]string{"bob": "bob@example.com staff disabled=false"}))
}

func TestReflectorReportsTheVersionItHasSeen(t *testing.T) {
	id := newIdentity(t, readWatch)
	putConfigMap(t, id.ns, "alice", jackApp, "1")
	var before corev1.ConfigMap
	must(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: id.ns, Name: "alice"}, &before))

	s := configMapStore()
	r := kube.NewReflector(id.client(t), kube.ListWatch{Path: kube.CollectionPath("", "v1", id.ns, "configmaps")}, s)
	if rv := r.Status().ResourceVersion; rv != "" {
		t.Errorf("before Run the version is %q; want none", rv)
	}
	run(t, r)
	poll.True(t, settle, "the list is handed over", func() bool { return r.Status().Synced })
	if rv := r.Status().ResourceVersion; !notOlder(rv, before.ResourceVersion) {
		t.Errorf("after the list the version is %q; want the list's, which is not older than alice's %s", rv, before.ResourceVersion)
	}

	putConfigMap(t, id.ns, "alice", nil, "2")
	var changed corev1.ConfigMap
	must(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: id.ns, Name: "alice"}, &changed))
	poll.True(t, settle, "the change arrives", holds(s, dataV, map[string]string{"alice": "2"}))
	// The handler has the event, so the status has its version: what a
	// caller reports as "seen up to". A bookmark may have moved it on since.
	if rv := r.Status().ResourceVersion; !notOlder(rv, changed.ResourceVersion) {
		t.Errorf("after the change the version is %q; want alice's new one, %s, or later", rv, changed.ResourceVersion)
	}
}

// notOlder compares resource versions as etcd makes them (decimal
// integers), which only a test may assume: clients treat them as opaque.
func notOlder(rv, than string) bool {
	a, errA := strconv.ParseUint(rv, 10, 64)
	b, errB := strconv.ParseUint(than, 10, 64)
	return errA == nil && errB == nil && a >= b
}

// signingKey is the part of a SigningKey a sidecar reads.
type signingKey struct {
	Metadata meta `json:"metadata"`
	Status   struct {
		ActiveKeyID string `json:"activeKeyID"`
	} `json:"status"`
}

func TestReflectorFollowsOneSigningKeyByNameStatusIncluded(t *testing.T) {
	id := newIdentity(t, allow(authv1alpha1.GroupVersion.Group, "signingkeys", "list", "watch"))
	ctx := context.Background()
	keys := map[string]*authv1alpha1.SigningKey{}
	for _, name := range []string{"jack", "partner"} {
		keys[name] = &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: id.ns}}
		create(t, keys[name])
	}
	setActive := func(name, kid string) {
		t.Helper()
		k := keys[name]
		patch := client.MergeFrom(k.DeepCopy())
		k.Status.ActiveKeyID = kid
		must(t, k8s.Status().Patch(ctx, k, patch))
	}
	setActive("jack", "a")
	setActive("partner", "p")

	s := newStore(func(k signingKey) string { return k.Metadata.Name })
	active := func(k signingKey) string { return k.Status.ActiveKeyID }
	r := kube.NewReflector(id.client(t), kube.ListWatch{
		Path:          kube.CollectionPath(authv1alpha1.GroupVersion.Group, authv1alpha1.GroupVersion.Version, id.ns, "signingkeys"),
		FieldSelector: "metadata.name=jack",
	}, s)
	run(t, r)
	poll.True(t, settle, "jack alone is listed", holds(s, active, map[string]string{"jack": "a"}))

	setActive("partner", "p2")
	setActive("jack", "b")
	poll.True(t, settle, "the promotion in jack's status arrives", holds(s, active, map[string]string{"jack": "b"}))
	if _, events := s.counts(); !slices.Equal(events, []string{"upsert jack"}) {
		t.Errorf("the handler got events %v; want jack's change alone", events)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
