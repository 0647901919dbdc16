package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// TestAUsersLifeShowsInTheDirectory walks one user through create, role
// change, password change, an unrelated Secret edit, disable, re-enable and
// delete, asserting on the decoded directory and on when sessions die.
func TestAUsersLifeShowsInTheDirectory(t *testing.T) {
	h := newUserHarness(t)
	h.setPassword("alice-pw", "correct horse battery")
	h.createUser("alice", "Alice@Example.com", jack.RoleStaff, "alice-pw")
	h.reconcile()

	e := h.entry("alice@example.com")
	if e == nil || e.Email != "alice@example.com" || e.Role != jack.RoleStaff || e.Name != "alice" || e.Disabled {
		t.Fatalf("after create the directory holds %+v", e)
	}
	if !verifies(t, e, "correct horse battery") {
		t.Fatal("the directory's hash does not verify the user's password")
	}
	if !e.SessionsValidAfter.IsZero() {
		t.Errorf("a new user's sessions were ended at %s", e.SessionsValidAfter)
	}
	u := h.user("alice")
	if !regexp.MustCompile(`^staff-[0-9]{12}$`).MatchString(u.Status.ID) || e.ID != u.Status.ID {
		t.Errorf("status.id = %q, directory id = %q; want one Jack-style id like staff-123456789012", u.Status.ID, e.ID)
	}
	if s, r := readyOf(u); s != "True" || r != authv1alpha1.ReasonUserReady {
		t.Errorf("Ready = %s/%s, want True/UserReady", s, r)
	}
	id := u.Status.ID

	// A promotion is visible at once and ends no session.
	h.updateUser("alice", func(u *authv1alpha1.JackUser) { u.Spec.Role = jack.RoleManager })
	h.clock.Step(time.Minute)
	h.reconcile()
	if e := h.entry("alice@example.com"); e.Role != jack.RoleManager || !e.SessionsValidAfter.IsZero() || e.ID != id {
		t.Fatalf("after a role change the directory holds %+v", e)
	}

	// A new password: old sessions die, the new password works, the old one doesn't.
	h.setPassword("alice-pw", "a much better passphrase")
	h.clock.Step(time.Minute)
	changedAt := h.clock.Now()
	h.reconcile()
	e = h.entry("alice@example.com")
	if !verifies(t, e, "a much better passphrase") || verifies(t, e, "correct horse battery") {
		t.Fatal("after a password change the directory does not hold exactly the new password")
	}
	if !e.SessionsValidAfter.Equal(changedAt) || !sameInstant(h.user("alice").Status.SessionsValidAfter, changedAt) {
		t.Fatalf("sessionsValidAfter = %s (status %v), want %s", e.SessionsValidAfter, h.user("alice").Status.SessionsValidAfter, changedAt)
	}
	if got := h.user("alice").Status.PasswordVersion; got == "" || got != e.PasswordVersion {
		t.Errorf("status.passwordVersion = %q, want the directory's %q", got, e.PasswordVersion)
	}
	if events := h.events.take(); !slices.Contains(reasonsOf(events), authv1alpha1.ReasonSessionsEnded) {
		t.Errorf("no SessionsEnded event for a password change: %q", events)
	}

	// Editing the Secret without changing the password ends nothing.
	s := &corev1.Secret{}
	_ = k8s.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "alice-pw"}, s)
	metav1.SetMetaDataLabel(&s.ObjectMeta, "team", "front-desk")
	if err := k8s.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(time.Minute)
	h.reconcile()
	if e := h.entry("alice@example.com"); !e.SessionsValidAfter.Equal(changedAt) || !verifies(t, e, "a much better passphrase") {
		t.Fatalf("relabelling the password Secret moved sessionsValidAfter to %s", e.SessionsValidAfter)
	}

	// Disable: no login, every session ends.
	h.updateUser("alice", func(u *authv1alpha1.JackUser) { u.Spec.Disabled = true })
	h.clock.Step(time.Minute)
	disabledAt := h.clock.Now()
	h.reconcile()
	if e := h.entry("alice@example.com"); !e.Disabled || !e.SessionsValidAfter.Equal(disabledAt) {
		t.Fatalf("after disable the directory holds %+v, want disabled with sessions ended at %s", e, disabledAt)
	}
	if s, r := readyOf(h.user("alice")); s != "False" || r != authv1alpha1.ReasonUserDisabled {
		t.Errorf("a disabled user is Ready %s/%s, want False/UserDisabled", s, r)
	}

	// Re-enable: they may log in again, but the sessions ended stay ended.
	h.updateUser("alice", func(u *authv1alpha1.JackUser) { u.Spec.Disabled = false })
	h.clock.Step(time.Minute)
	h.reconcile()
	if e := h.entry("alice@example.com"); e.Disabled || !e.SessionsValidAfter.Equal(disabledAt) {
		t.Fatalf("after re-enable the directory holds %+v", e)
	}
	if s, _ := readyOf(h.user("alice")); s != "True" {
		t.Errorf("a re-enabled user is Ready %s", s)
	}

	// Delete: gone, and with the namespace's last user (and no SigningKey)
	// the directory goes too.
	if err := k8s.Delete(context.Background(), h.user("alice")); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if _, err := tryDirectory(h.ns); err == nil {
		t.Fatal("after the namespace's only user is deleted its directory is still there")
	}
}

func TestMissingAndWeakPasswordsAreConditions(t *testing.T) {
	h := newUserHarness(t)
	h.createUser("bob", "bob@example.com", jack.RoleStaff, "bob-pw")
	h.reconcile()
	assertNoLogin := func(when, reason, says string) {
		t.Helper()
		u := h.user("bob")
		status, r := readyOf(u)
		msg := ""
		for _, c := range u.Status.Conditions {
			msg = c.Message
		}
		if status != "False" || r != reason || !strings.Contains(msg, says) {
			t.Errorf("%s: Ready = %s/%s %q, want False/%s saying %q", when, status, r, msg, reason, says)
		}
		if e := h.entry("bob@example.com"); e == nil || e.PasswordHash != "" {
			t.Errorf("%s: the directory lets bob log in (%+v)", when, e)
		}
	}
	assertNoLogin("without the Secret", authv1alpha1.ReasonPasswordMissing, "Secret bob-pw does not exist")

	wrongKey := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bob-pw", Namespace: h.ns}, StringData: map[string]string{"pass": "long enough password"}}
	if err := k8s.Create(context.Background(), wrongKey); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	assertNoLogin("without the key", authv1alpha1.ReasonPasswordMissing, `Secret bob-pw has no key "password"`)

	h.setPassword("bob-pw", "Zq9!x")
	h.reconcile()
	assertNoLogin("with a weak password", authv1alpha1.ReasonPasswordTooWeak, "at least 12 characters")

	h.setPassword("bob-pw", "now twelve+ chars")
	h.reconcile()
	if s, _ := readyOf(h.user("bob")); s != "True" || !verifies(t, h.entry("bob@example.com"), "now twelve+ chars") {
		t.Errorf("after a good password Ready = %s", s)
	}
	events := strings.Join(h.events.take(), "\n")
	for _, leaked := range []string{"Zq9!x", "now twelve+ chars", "long enough password"} {
		if strings.Contains(events, leaked) || strings.Contains(h.logs.String(), leaked) {
			t.Errorf("a password appears in the events or logs")
		}
	}
}

// The webhook refuses duplicate emails, but two users can still race past
// it; the controller then lets only the older log in.
func TestDuplicateEmailsAreCaughtEvenPastAdmission(t *testing.T) {
	h := newUserHarness(t)
	h.setPassword("pw", "a good long password")
	older := authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "older", Namespace: h.ns, UID: "u-1", CreationTimestamp: metav1.NewTime(epoch)},
		Spec: authv1alpha1.JackUserSpec{Email: "Dup@Example.com", Name: "Older", Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "pw", Key: "password"}}}
	newer := *older.DeepCopy()
	newer.Name, newer.UID, newer.CreationTimestamp = "newer", "u-2", metav1.NewTime(epoch.Add(time.Second))
	newer.Spec.Email = "dup@EXAMPLE.com"
	plans, err := h.r.planUsers(context.Background(), []authv1alpha1.JackUser{newer, older}, &userdir.Directory{}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]userPlan{}
	for _, p := range plans {
		byName[p.user.Name] = p
	}
	if p := byName["older"]; p.excluded {
		t.Errorf("the older user was excluded: %s", p.message)
	}
	if p := byName["newer"]; !p.excluded || p.reason != authv1alpha1.ReasonDuplicateEmail || !strings.Contains(p.message, "JackUser older already has the email dup@example.com") {
		t.Errorf("the newer user = excluded %v, %s %q; want DuplicateEmail naming the older", p.excluded, p.reason, p.message)
	}
}

func TestTheDirectoryIsWrittenOnlyWhenItChanges(t *testing.T) {
	h := newUserHarness(t)
	h.setPassword("pw", "a good long password")
	h.createUser("carol", "carol@example.com", jack.RoleAdmin, "pw")
	h.reconcile()
	_, before := h.directory()
	writes := testutil.ToFloat64(directoryWrites.WithLabelValues(h.ns))
	h.clock.Step(time.Hour)
	h.reconcile()
	h.reconcile()
	_, after := h.directory()
	if after.ResourceVersion != before.ResourceVersion || testutil.ToFloat64(directoryWrites.WithLabelValues(h.ns)) != writes {
		t.Error("reconciling an unchanged namespace rewrote its directory")
	}
	if after.Labels[jack.LabelComponent] != jack.ComponentUserDirectory {
		t.Errorf("the directory Secret lacks its component label: %v", after.Labels)
	}
}

func TestSessionsEndedSurviveALostDirectory(t *testing.T) {
	h := newUserHarness(t)
	h.setPassword("pw", "the first password")
	h.createUser("dan", "dan@example.com", jack.RoleStaff, "pw")
	h.reconcile()
	h.setPassword("pw", "the second password")
	h.clock.Step(time.Minute)
	ended := h.clock.Now()
	h.reconcile()

	_, s := h.directory()
	if err := k8s.Delete(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(time.Minute)
	h.reconcile()
	e := h.entry("dan@example.com")
	if e == nil || !e.SessionsValidAfter.Equal(ended) || !verifies(t, e, "the second password") {
		t.Fatalf("the rebuilt directory holds %+v; want sessions ended at %s and the current password", e, ended)
	}
}

func TestAGivenIDIsUsedAndAGeneratedOneIsStable(t *testing.T) {
	h := newUserHarness(t)
	h.setPassword("pw", "a good long password")
	h.createUser("erin", "erin@example.com", jack.RoleManager, "pw")
	u := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "finn", Namespace: h.ns}, Spec: authv1alpha1.JackUserSpec{
		Email: "finn@example.com", Name: "Finn", Role: jack.RoleStaff, ID: "staff-123", PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "pw"}}}
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	first := h.user("erin").Status.ID
	if got := h.user("finn").Status.ID; got != "staff-123" {
		t.Errorf("finn's status.id = %q, want spec.id staff-123", got)
	}
	// Even if the status is lost, the same id comes back.
	erin := h.user("erin")
	erin.Status = authv1alpha1.JackUserStatus{}
	if err := k8s.Status().Update(context.Background(), erin); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if again := h.user("erin").Status.ID; again != first || !strings.HasPrefix(first, "manager-") {
		t.Errorf("erin's id was %q and is now %q; it must be stable and Jack-style", first, again)
	}
}

func TestNoPasswordOrHashInStatusEventsOrLogs(t *testing.T) {
	h := newUserHarness(t)
	passwords := []string{"first secret password", "second secret password", "weak"}
	h.setPassword("pw", passwords[0])
	h.createUser("gil", "gil@example.com", jack.RoleStaff, "pw")
	h.reconcile()
	var hashes []string
	for _, pw := range passwords[1:] {
		hashes = append(hashes, h.entry("gil@example.com").PasswordHash)
		h.setPassword("pw", pw)
		h.clock.Step(time.Minute)
		h.reconcile()
	}
	status, _ := json.Marshal(h.user("gil").Status)
	events := strings.Join(h.events.take(), "\n")
	if events == "" || h.logs.Len() == 0 {
		t.Fatal("nothing was recorded or logged; the test would prove nothing")
	}
	for where, text := range map[string]string{"status": string(status), "events": events, "logs": h.logs.String()} {
		for _, secret := range append(passwords, hashes...) {
			if secret != "" && strings.Contains(text, secret) {
				t.Errorf("the %s contain a password or a hash", where)
			}
		}
		if strings.Contains(text, "$argon2id$") {
			t.Errorf("the %s contain an argon2id hash", where)
		}
	}
}

// Through the manager, as in a cluster.

func TestADuplicateEmailIsRefusedAtAdmission(t *testing.T) {
	ctx := context.Background()
	mk := func(name, email string) *authv1alpha1.JackUser {
		return &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: liveNS}, Spec: authv1alpha1.JackUserSpec{
			Email: email, Name: name, Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: name + "-pw"}}}
	}
	if err := createWhenWebhookServes(ctx, mk("hana", "hana@example.com")); err != nil {
		t.Fatal(err)
	}
	// The webhook reads a cache: give it a moment to see hana.
	var err error
	poll.Until(t, 2500*time.Millisecond, "a second user with hana's email is refused", func() error {
		if err = k8s.Create(ctx, mk("hana2", "HANA@example.com")); err != nil {
			return nil
		}
		_ = k8s.Delete(ctx, mk("hana2", ""))
		return errors.New("hana2 was admitted")
	})
	want := `JackUser "hana" in namespace live already has the email hana@example.com; emails must be unique in a namespace`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("creating a second user with hana's email in other case: %v; want a refusal saying %q", err, want)
	}
	// Changing another user's email to it is refused too.
	if err := k8s.Create(ctx, mk("ivan", "ivan@example.com")); err != nil {
		t.Fatal(err)
	}
	ivan := mk("ivan", "")
	_ = k8s.Get(ctx, client.ObjectKeyFromObject(ivan), ivan)
	ivan.Spec.Email = "Hana@Example.com"
	if err := k8s.Update(ctx, ivan); err == nil || !strings.Contains(err.Error(), "already has the email hana@example.com") {
		t.Fatalf("changing ivan's email to hana's: %v, want a refusal", err)
	}
}

func TestAPasswordChangeReachesTheDirectoryWithinASecond(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jo-pw", Namespace: liveNS}, StringData: map[string]string{"password": "the first password"}}
	if err := k8s.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	u := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "jo", Namespace: liveNS}, Spec: authv1alpha1.JackUserSpec{
		Email: "jo@example.com", Name: "Jo", Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "jo-pw"}}}
	if err := createWhenWebhookServes(ctx, u); err != nil {
		t.Fatal(err)
	}
	inDirectory := func(pw string) {
		t.Helper()
		poll.True(t, 10*time.Second, "the directory holds jo's "+pw, func() bool {
			s := &corev1.Secret{}
			if k8s.Get(ctx, client.ObjectKey{Namespace: liveNS, Name: jack.UserDirectorySecretName}, s) != nil {
				return false
			}
			d, err := userdir.Decode(s.Data[jack.SecretKeyUserDirectory])
			if err != nil {
				return false
			}
			e, ok := d.Index().ByEmail("jo@example.com")
			return ok && verifies(t, e, pw)
		})
	}
	inDirectory("the first password")
	// Time one change on an idle namespace: during a burst, writes are
	// spaced by DefaultMinWriteInterval on purpose (see the burst test).
	time.Sleep(DefaultMinWriteInterval)

	secret.Data, secret.StringData = map[string][]byte{"password": []byte("the second password")}, nil
	start := time.Now()
	if err := k8s.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	inDirectory("the second password")
	took := time.Since(start)
	t.Logf("the new password was in the directory %v after the Secret changed", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("the password change took %v to reach the directory, want under a second", took)
	}
	poll.True(t, 10*time.Second, "jo's sessions from before the change end", func() bool {
		got := getUser(t, "jo").Status.SessionsValidAfter
		return got != nil && !got.Before(&metav1.Time{Time: start.Add(-time.Second)})
	})
}

func getUser(t *testing.T, name string) *authv1alpha1.JackUser {
	t.Helper()
	return getObject(t, liveNS, name, &authv1alpha1.JackUser{})
}

// TestABurstOfAThousandUsersIsAHandfulOfWrites creates 1,000 users as fast
// as the API server takes them and counts the directory writes.
func TestABurstOfAThousandUsersIsAHandfulOfWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 2,000 objects")
	}
	ctx := context.Background()
	const n = 1000
	writesBefore := testutil.ToFloat64(directoryWrites.WithLabelValues(liveNS))
	usersBefore := 0
	if d, err := tryDirectory(liveNS); err == nil {
		usersBefore = len(d.Users)
	}
	for i := range n {
		name := fmt.Sprintf("burst-%04d", i)
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: liveNS}, StringData: map[string]string{"password": "burst password " + name}}
		if err := k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		u := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: liveNS}, Spec: authv1alpha1.JackUserSpec{
			Email: name + "@example.com", Name: name, Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: name}}}
		if err := k8s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 60*time.Second, fmt.Sprintf("the directory reaches %d users", usersBefore+n), func() error {
		d, err := tryDirectory(liveNS)
		if err != nil {
			return err
		}
		if len(d.Users) < usersBefore+n {
			return fmt.Errorf("it holds %d", len(d.Users))
		}
		return nil
	})
	writes := testutil.ToFloat64(directoryWrites.WithLabelValues(liveNS)) - writesBefore
	t.Logf("%d users created one by one made %v directory writes", n, writes)
	// The writes follow the time the burst takes (one per 500 ms at most),
	// not its size; the bound leaves room for a slow machine.
	if writes > n/4 {
		t.Errorf("%d user creations made %v directory writes; they must be batched", n, writes)
	}
}

func tryDirectory(ns string) (*userdir.Directory, error) {
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: jack.UserDirectorySecretName}, s); err != nil {
		return nil, err
	}
	return userdir.Decode(s.Data[jack.SecretKeyUserDirectory])
}

// A namespace with a SigningKey and no users yet still gets a directory, so
// injected sidecars, which wait for one, become ready.
// Without a SigningKey either, nothing needs one and none is made.
func TestANamespaceWithoutUsersGetsAnEmptyDirectory(t *testing.T) {
	h := newUserHarness(t)
	h.reconcile()
	if _, err := tryDirectory(h.ns); err == nil {
		t.Fatal("a namespace with no JackUser and no SigningKey got a user directory")
	}
	if err := k8s.Create(context.Background(), &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: h.ns}}); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	d, s := h.directory()
	if len(d.Users) != 0 || s.Labels[jack.LabelComponent] != jack.ComponentUserDirectory {
		t.Fatalf("the directory of a namespace without users holds %d users, labels %v", len(d.Users), s.Labels)
	}
}
