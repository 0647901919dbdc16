package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

func getUser(t *testing.T, ns, name string) *authv1alpha1.JackUser {
	t.Helper()
	u := &authv1alpha1.JackUser{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, u); err != nil {
		t.Fatalf("reading JackUser %s: %v", name, err)
	}
	return u
}

func getSecret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
		t.Fatalf("reading Secret %s: %v", name, err)
	}
	return s
}

// waitReady waits until the operator says the user can log in: it has read
// and hashed the password.
func waitReady(t *testing.T, ns, name string) *authv1alpha1.JackUser {
	t.Helper()
	var u *authv1alpha1.JackUser
	poll.Until(t, 20*time.Second, "JackUser "+name+" Ready", func() error {
		u = getUser(t, ns, name)
		c := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready is %+v", c)
		}
		return nil
	})
	return u
}

func TestUserAddWithAGeneratedPasswordCreatesBothObjectsAndPrintsThePasswordOnce(t *testing.T) {
	ns := newNamespace(t)
	r := mustSucceed(t, ns, "", "user", "add", "alice", "--email", "alice@example.com", "--role", "manager", "--name", "Alice Liddell", "--generate")
	password := shownOnce(t, r.stdout, "Password of alice")
	if len(password) < 20 {
		t.Errorf("the generated password has %d characters, want at least 20", len(password))
	}
	if strings.Contains(r.stderr, password) {
		t.Errorf("the password is also on stderr:\n%s", r)
	}
	if !strings.Contains(r.stdout, "jackuser/alice created, with its password in Secret alice-password") {
		t.Errorf("no sentence saying what was created:\n%s", r)
	}

	u := getUser(t, ns, "alice")
	want := authv1alpha1.JackUserSpec{Email: "alice@example.com", Name: "Alice Liddell", Role: jack.RoleManager,
		PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "alice-password", Key: "password"}}
	if u.Spec != want {
		t.Errorf("spec = %+v, want %+v", u.Spec, want)
	}
	s := getSecret(t, ns, "alice-password")
	if got := string(s.Data["password"]); got != password {
		t.Error("the Secret does not hold the printed password")
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != u.UID || s.OwnerReferences[0].Kind != "JackUser" {
		t.Errorf("the Secret's owner references = %+v, want the JackUser %s", s.OwnerReferences, u.UID)
	}
	// The operator accepts the password: the user can log in.
	waitReady(t, ns, "alice")

	// Another password of the same length is another password.
	r2 := mustSucceed(t, ns, "", "user", "add", "bob", "--email", "bob@example.com", "--role", "staff", "--generate")
	if p2 := shownOnce(t, r2.stdout, "Password of bob"); p2 == password {
		t.Error("two generated passwords are the same")
	}
	if got := getUser(t, ns, "bob").Spec.Name; got != "bob" {
		t.Errorf("without --name the display name is %q, want the user's name", got)
	}
}

func TestUserAddWithAPasswordFromStdinNeverPrintsIt(t *testing.T) {
	ns := newNamespace(t)
	const password = "correct horse battery staple"
	r := mustSucceed(t, ns, password+"\n", "user", "add", "carol", "--email", "carol@example.com", "--role", "staff", "--password-stdin")
	noSecretIn(t, r, password)
	if got := string(getSecret(t, ns, "carol-password").Data["password"]); got != password {
		t.Errorf("the Secret holds %d bytes, want the password without its newline", len(got))
	}
	waitReady(t, ns, "carol")

	// -o prints the JackUser, which holds no password.
	r = mustSucceed(t, ns, "another long password", "user", "add", "dave", "--email", "dave@example.com", "--role", "admin", "--password-stdin", "-o", "json")
	noSecretIn(t, r, "another long password")
	var u authv1alpha1.JackUser
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil || u.Kind != "JackUser" || u.Spec.Email != "dave@example.com" {
		t.Errorf("-o json did not print the JackUser (%v):\n%s", err, r)
	}

	// A short password is the operator's to refuse; the plugin warns.
	r = mustSucceed(t, ns, "Qx7-pw", "user", "add", "erin", "--email", "erin@example.com", "--role", "staff", "--password-stdin")
	if !strings.Contains(r.stderr, "Warning: the password is too short: it must have at least 12 characters") {
		t.Errorf("no warning for a short password:\n%s", r)
	}
	noSecretIn(t, r, "Qx7-pw")
	mustFail(t, ns, "\n", "standard input held no password", "user", "add", "frank", "--email", "frank@example.com", "--role", "staff", "--password-stdin")
}

// nothingIn fails the test if the namespace holds a JackUser or a Secret
// other than the operator's.
func nothingIn(t *testing.T, ns string) {
	t.Helper()
	var users authv1alpha1.JackUserList
	var secrets corev1.SecretList
	if err := errors.Join(k8s.List(context.Background(), &users, client.InNamespace(ns)),
		k8s.List(context.Background(), &secrets, client.InNamespace(ns))); err != nil {
		t.Fatal(err)
	}
	// The operator's own (the user directory, when a probe got through)
	// are not the plugin's.
	secrets.Items = slices.DeleteFunc(secrets.Items, func(s corev1.Secret) bool { return s.Labels[jack.LabelManagedBy] == jack.ManagedByValue })
	if len(users.Items) > 0 || len(secrets.Items) > 0 {
		t.Errorf("something was left behind: %d JackUsers, %d Secrets", len(users.Items), len(secrets.Items))
	}
}

func TestUserAddRefusedByTheAPIServerLeavesNothingBehind(t *testing.T) {
	ns := newNamespace(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"a bad email": {
			[]string{"--email", "not-an-address", "--role", "staff"},
			`the JackUser grace cannot be created: spec.email: Invalid value: "not-an-address": email must be an address like alice@example.com`,
		},
		"an unknown role": {
			[]string{"--email", "grace@example.com", "--role", "boss"},
			`spec.role: Unsupported value: "boss": supported values: "admin", "manager", "staff"`,
		},
		"a blank display name": {
			[]string{"--email", "grace@example.com", "--role", "staff", "--name", " "},
			`spec.name: Invalid value: " ": name must not be empty: give the user's display name`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := mustFail(t, ns, "a long enough password", tc.want, append([]string{"user", "add", "grace", "--password-stdin"}, tc.args...)...)
			if strings.Contains(r.stderr, "validation rules were not checked") || strings.Contains(r.stderr, "<nil>") {
				t.Errorf("the refusal carries the API server's note on the rules it skipped, which asks nothing of the user:\n%s", r.stderr)
			}
			noSecretIn(t, r, "a long enough password")
			nothingIn(t, ns)
		})
	}
}

func TestUserAddDeletesTheSecretWhenTheJackUserCannotBeCreated(t *testing.T) {
	ns := newNamespace(t)
	// An admission policy of the API server's own that lets the dry run
	// through and refuses the real create: what a webhook or a quota could
	// do between the two.
	ctx := context.Background()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "refuse-jackusers-" + ns},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptrTo(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{jack.Group}, APIVersions: []string{"*"}, Resources: []string{"jackusers"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "request.dryRun == true", Message: "no JackUsers here today"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), o) })
	}
	// The API server loads policies asynchronously: wait until it refuses.
	probe := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns}, Spec: authv1alpha1.JackUserSpec{
		Email: "probe@example.com", Name: "Probe", Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "none"}}}
	poll.Until(t, 20*time.Second, "the policy refuses JackUsers", func() error {
		err := k8s.Create(ctx, probe.DeepCopy())
		if err == nil {
			_ = k8s.Delete(ctx, probe)
			return errors.New("a JackUser was created")
		}
		if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
			return err
		}
		return nil
	})

	r := mustFail(t, ns, "", "no JackUsers here today", "user", "add", "heidi", "--email", "heidi@example.com", "--role", "staff", "--generate")
	if strings.Contains(r.stdout+r.stderr, "shown once") {
		t.Errorf("a password was printed for a user that was not created:\n%s", r)
	}
	nothingIn(t, ns)
}

func ptrTo[T any](v T) *T { return &v }

func TestUserPasswdWritesTheReferencedSecret(t *testing.T) {
	ns := newNamespace(t)
	r := mustSucceed(t, ns, "", "user", "add", "ivan", "--email", "ivan@example.com", "--role", "staff", "--generate")
	first := shownOnce(t, r.stdout, "Password of ivan")
	before := waitReady(t, ns, "ivan").Status.PasswordVersion

	const typed = "a brand new password of mine"
	r = mustSucceed(t, ns, typed, "user", "passwd", "ivan", "--password-stdin")
	noSecretIn(t, r, typed, first)
	if got := string(getSecret(t, ns, "ivan-password").Data["password"]); got != typed {
		t.Error("the Secret does not hold the new password")
	}
	// The operator hashed it: the password's version moved.
	poll.Until(t, 20*time.Second, "a new passwordVersion", func() error {
		if v := getUser(t, ns, "ivan").Status.PasswordVersion; v == before || v == "" {
			return fmt.Errorf("passwordVersion is still %q", v)
		}
		return nil
	})

	r = mustSucceed(t, ns, "", "user", "passwd", "ivan", "--generate")
	generated := shownOnce(t, r.stdout, "Password of ivan")
	noSecretIn(t, r, typed, first)
	if got := string(getSecret(t, ns, "ivan-password").Data["password"]); got != generated {
		t.Error("the Secret does not hold the generated password")
	}

	// A user whose Secret is gone gets one, owned by the user.
	if err := k8s.Delete(context.Background(), getSecret(t, ns, "ivan-password")); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, ns, typed, "user", "passwd", "ivan", "--password-stdin")
	s := getSecret(t, ns, "ivan-password")
	if string(s.Data["password"]) != typed || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Name != "ivan" {
		t.Errorf("the recreated Secret is not the user's with the new password: owners %+v", s.OwnerReferences)
	}

	mustFail(t, ns, typed, "there is no JackUser nobody in namespace "+ns, "user", "passwd", "nobody", "--password-stdin")
	mustFail(t, ns, "", "give either --password-stdin or --generate, not both", "user", "passwd", "ivan", "--password-stdin", "--generate")
}

func TestUserDisableAndEnable(t *testing.T) {
	ns := newNamespace(t)
	mustSucceed(t, ns, "", "user", "add", "judy", "--email", "judy@example.com", "--role", "staff", "--generate")

	r := mustSucceed(t, ns, "", "user", "disable", "judy")
	if strings.TrimSpace(r.stdout) != "jackuser/judy disabled" || !getUser(t, ns, "judy").Spec.Disabled {
		t.Errorf("user disable did not disable judy:\n%s", r)
	}
	poll.Until(t, 20*time.Second, "judy reported disabled", func() error {
		c := meta.FindStatusCondition(getUser(t, ns, "judy").Status.Conditions, authv1alpha1.ConditionReady)
		if c == nil || c.Reason != authv1alpha1.ReasonUserDisabled {
			return fmt.Errorf("Ready is %+v", c)
		}
		return nil
	})

	r = mustSucceed(t, ns, "", "user", "enable", "judy", "-o", "yaml")
	var u authv1alpha1.JackUser
	if err := yaml.Unmarshal([]byte(r.stdout), &u); err != nil || u.Kind != "JackUser" || u.Spec.Disabled {
		t.Errorf("-o yaml did not print the enabled JackUser (%v):\n%s", err, r)
	}
	if getUser(t, ns, "judy").Spec.Disabled {
		t.Error("user enable left judy disabled")
	}
	waitReady(t, ns, "judy")

	mustFail(t, ns, "", "there is no JackUser nobody in namespace "+ns, "user", "disable", "nobody")
	mustFail(t, ns, "", `--output must be json or yaml, not "wide"`, "user", "disable", "judy", "-o", "wide")
}

func TestUserEndSessions(t *testing.T) {
	ns := newNamespace(t)
	mustSucceed(t, ns, "", "user", "add", "ken", "--email", "ken@example.com", "--role", "staff", "--generate")
	waitReady(t, ns, "ken")

	// Without --wait: the annotation is set, to a new value each time.
	mustSucceed(t, ns, "", "user", "end-sessions", "ken")
	first := getUser(t, ns, "ken").Annotations[jack.AnnotationEndSessions]
	if first == "" {
		t.Fatal("no end-sessions annotation")
	}

	// With --wait: the operator acts on the new value and every sidecar
	// (there are none in this namespace) confirms.
	r := mustSucceed(t, ns, "", "user", "end-sessions", "ken", "--wait", "--timeout", "30s")
	u := getUser(t, ns, "ken")
	second := u.Annotations[jack.AnnotationEndSessions]
	if second == first {
		t.Error("the second end-sessions reused the first's value, which the operator ignores")
	}
	if u.Status.LastEndSessionsRequest != second || u.Status.SessionsEndConfirmed == nil || !meta.IsStatusConditionTrue(u.Status.Conditions, authv1alpha1.ConditionSessionsEnded) {
		t.Errorf("--wait returned before the operator confirmed: status %+v", u.Status)
	}
	if !strings.Contains(r.stdout, "jackuser/ken: sessions ended; every ready sidecar refuses tokens issued before") {
		t.Errorf("unexpected output:\n%s", r)
	}

	// A wait the operator cannot satisfy in time fails with a sentence.
	mustFail(t, ns, "", "not within 1ns", "user", "end-sessions", "ken", "--wait", "--timeout", "1ns")
	mustFail(t, ns, "", "there is no JackUser nobody", "user", "end-sessions", "nobody")
}

func TestUserAddWaitReturnsOnceTheUserCanLogIn(t *testing.T) {
	ns := newNamespace(t)
	r := mustSucceed(t, ns, "", "user", "add", "lena", "--email", "lena@example.com", "--role", "staff", "--generate", "--wait", "--timeout", "30s")
	shownOnce(t, r.stdout, "Password of lena")
	if !strings.Contains(r.stdout, "jackuser/lena created, with its password in Secret lena-password; every ready sidecar logs the user in") {
		t.Errorf("no sentence saying the user can log in:\n%s", r)
	}
	// Ready and Propagated for this password when it returned, not some
	// time later.
	loggedInEverywhereNow(t, getUser(t, ns, "lena"))

	// -o prints the ready JackUser; the typed password is nowhere.
	const typed = "a password long enough to pass"
	r = mustSucceed(t, ns, typed, "user", "add", "mia", "--email", "mia@example.com", "--role", "staff", "--password-stdin", "--wait", "-o", "json")
	noSecretIn(t, r, typed)
	var u authv1alpha1.JackUser
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil || !meta.IsStatusConditionTrue(u.Status.Conditions, authv1alpha1.ConditionReady) {
		t.Errorf("-o json with --wait did not print the ready JackUser (%v):\n%s", err, r)
	}
}

func TestUserAddWaitSaysWhyTheUserCannotLogIn(t *testing.T) {
	ns := newNamespace(t)
	// A password the operator refuses: the wait ends at once with its reason
	// and the fix, and exit 1; the user and its Secret stay, as it says.
	start := time.Now()
	r := mustFail(t, ns, "Qx7-pw", "jackuser/nora and its Secret nora-password were created, but the user cannot log in (PasswordTooWeak): Secret nora-password: the password is too short",
		"user", "add", "nora", "--email", "nora@example.com", "--role", "staff", "--password-stdin", "--wait", "--timeout", "50s")
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the wait took %s: a refusal should end it", took)
	}
	if !strings.Contains(r.stderr, "set another with kubectl jack user passwd nora --generate") {
		t.Errorf("no fix named:\n%s", r)
	}
	noSecretIn(t, r, "Qx7-pw")
	getUser(t, ns, "nora")
	getSecret(t, ns, "nora-password")

	// A wait that times out still prints the generated password, once: the
	// user exists and its password would be lost otherwise.
	r = mustFail(t, ns, "", "jackuser/olaf and its Secret olaf-password were created, but not within 1ns", "user", "add", "olaf",
		"--email", "olaf@example.com", "--role", "staff", "--generate", "--wait", "--timeout", "1ns")
	if got := string(getSecret(t, ns, "olaf-password").Data["password"]); got != shownOnce(t, r.stdout, "Password of olaf") {
		t.Error("the password printed after the timeout is not the Secret's")
	}

	mustFail(t, ns, "", "--timeout must be positive", "user", "add", "pia", "--email", "pia@example.com", "--role", "staff", "--generate", "--wait", "--timeout", "0s")
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "pia"}, &authv1alpha1.JackUser{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused --timeout made the user: %v", err)
	}
}

// The operator's uniqueness webhook is the one that knows an email is
// taken: its refusal comes at the dry run, in its own words, before a
// password is read or a Secret made.
func TestUserAddWithATakenEmailIsRefusedByTheWebhookAtTheDryRun(t *testing.T) {
	ns := newNamespace(t)
	mustSucceed(t, ns, "", "user", "add", "quinn", "--email", "quinn@example.com", "--role", "staff", "--generate", "--wait")

	r := mustFail(t, ns, "", `error: the JackUser rosa cannot be created: spec.email: JackUser "quinn" in namespace `+ns+
		` already has the email quinn@example.com; emails must be unique in a namespace, compared without regard to case`,
		"user", "add", "rosa", "--email", "Quinn@Example.com", "--role", "staff", "--generate")
	if strings.Contains(r.stdout+r.stderr, "shown once") || strings.Contains(r.stderr, "admission webhook") {
		t.Errorf("want the webhook's sentence alone and no password:\n%s", r)
	}
	ctx := context.Background()
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "rosa"}, &authv1alpha1.JackUser{}); !apierrors.IsNotFound(err) {
		t.Errorf("the JackUser rosa was left behind: %v", err)
	}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "rosa-password"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Secret rosa-password was left behind: %v", err)
	}
}

func TestUserPasswdPrintsTheJackUserWithOutput(t *testing.T) {
	ns := newNamespace(t)
	first := shownOnce(t, mustSucceed(t, ns, "", "user", "add", "sami", "--email", "sami@example.com", "--role", "staff", "--generate").stdout, "Password of sami")

	// -o yaml: the JackUser on stdout, the generated password on stderr, once.
	r := mustSucceed(t, ns, "", "user", "passwd", "sami", "--generate", "-o", "yaml")
	generated := shownOnce(t, r.stderr, "Password of sami")
	noSecretIn(t, result{stdout: r.stdout}, generated, first)
	var u authv1alpha1.JackUser
	if err := yaml.Unmarshal([]byte(r.stdout), &u); err != nil || u.Kind != "JackUser" || u.Name != "sami" || u.Spec.PasswordSecretRef.Name != "sami-password" {
		t.Errorf("-o yaml did not print the JackUser (%v):\n%s", err, r)
	}
	if got := string(getSecret(t, ns, "sami-password").Data["password"]); got != generated {
		t.Error("the Secret does not hold the generated password")
	}

	// -o json with a typed password prints no password at all.
	const typed = "another password of mine"
	r = mustSucceed(t, ns, typed, "user", "passwd", "sami", "--password-stdin", "-o", "json")
	noSecretIn(t, r, typed, generated, first)
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil || u.Kind != "JackUser" {
		t.Errorf("-o json did not print the JackUser (%v):\n%s", err, r)
	}

	// An unknown format is refused before the password changes.
	mustFail(t, ns, "not this one at all", `--output must be json or yaml, not "wide"`, "user", "passwd", "sami", "--password-stdin", "-o", "wide")
	if got := string(getSecret(t, ns, "sami-password").Data["password"]); got != typed {
		t.Error("a refused -o changed the password")
	}
}

// loggedInEverywhereNow fails unless u is Ready and Propagated for its
// current password: what user add and passwd --wait promise on return.
func loggedInEverywhereNow(t *testing.T, u *authv1alpha1.JackUser) {
	t.Helper()
	if c := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("--wait returned before JackUser %s was Ready: %+v", u.Name, c)
	}
	if c := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionPropagated); c == nil || c.Status != metav1.ConditionTrue ||
		u.Status.PropagatedPasswordVersion != u.Status.PasswordVersion {
		t.Errorf("--wait returned before JackUser %s was Propagated for password version %s (propagated %q): %+v",
			u.Name, u.Status.PasswordVersion, u.Status.PropagatedPasswordVersion, c)
	}
}

func TestUserPasswdWaitReturnsOnceTheNewPasswordWorksEverywhere(t *testing.T) {
	ns := newNamespace(t)
	mustSucceed(t, ns, "", "user", "add", "uma", "--email", "uma@example.com", "--role", "staff", "--generate", "--wait")
	before := getUser(t, ns, "uma").Status.PasswordVersion

	const typed = "uma's brand new password"
	r := mustSucceed(t, ns, typed, "user", "passwd", "uma", "--password-stdin", "--wait", "-o", "json")
	noSecretIn(t, r, typed)
	var u authv1alpha1.JackUser
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r)
	}
	// The JackUser printed is the one the wait ended on: a new version,
	// hashed and confirmed.
	if u.Status.PasswordVersion == before || u.Status.PasswordVersion == "" {
		t.Errorf("passwd --wait returned with passwordVersion %q, the one from before the change", u.Status.PasswordVersion)
	}
	loggedInEverywhereNow(t, &u)

	// The same password again changes nothing, and there is nothing to
	// wait for.
	start := time.Now()
	r = mustSucceed(t, ns, typed, "user", "passwd", "uma", "--password-stdin", "--wait")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("writing the password the Secret holds waited %s", took)
	}
	if !strings.Contains(r.stdout, "every ready sidecar logs the user in with it") {
		t.Errorf("no sentence saying the password works:\n%s", r)
	}

	// A wait that times out still prints the generated password, once.
	r = mustFail(t, ns, "", "the new password of jackuser/uma is in Secret uma-password, but not within 1ns", "user", "passwd", "uma", "--generate", "--wait", "--timeout", "1ns")
	if got := string(getSecret(t, ns, "uma-password").Data["password"]); got != shownOnce(t, r.stdout, "Password of uma") {
		t.Error("the password printed after the timeout is not the Secret's")
	}
}

// The checks user add and passwd --wait end on, for each state of the
// status the operator can write.
func TestCanLogInNeedsReadyAndPropagatedForTheCurrentPassword(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string, gen int64) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, ObservedGeneration: gen, Message: "m"}
	}
	ready := cond(authv1alpha1.ConditionReady, metav1.ConditionTrue, authv1alpha1.ReasonUserReady, 2)
	propagated := cond(authv1alpha1.ConditionPropagated, metav1.ConditionTrue, authv1alpha1.ReasonConfirmed, 2)
	for name, tc := range map[string]struct {
		conditions        []metav1.Condition
		propagatedVersion string
		want              string // "" done; else a part of the error
		givesUp           bool
	}{
		"ready and propagated":             {[]metav1.Condition{ready, propagated}, "v2", "", false},
		"no condition yet":                 {nil, "", "has not reported on it yet", false},
		"ready of an older generation":     {[]metav1.Condition{cond(authv1alpha1.ConditionReady, metav1.ConditionTrue, authv1alpha1.ReasonUserReady, 1), propagated}, "v2", "has not reported on it yet", false},
		"ready, not asked yet":             {[]metav1.Condition{ready}, "", "no Propagated condition", false},
		"ready, sidecars not there yet":    {[]metav1.Condition{ready, cond(authv1alpha1.ConditionPropagated, metav1.ConditionFalse, authv1alpha1.ReasonAwaitingSidecars, 2)}, "", "not every sidecar logs the user in yet (Propagated False, AwaitingSidecars", false},
		"propagated for the old password":  {[]metav1.Condition{ready, propagated}, "v1", "not every sidecar logs the user in yet (Propagated True", false},
		"propagated for an old generation": {[]metav1.Condition{ready, cond(authv1alpha1.ConditionPropagated, metav1.ConditionTrue, authv1alpha1.ReasonConfirmed, 1)}, "v2", "not every sidecar", false},
		"password too weak":                {[]metav1.Condition{cond(authv1alpha1.ConditionReady, metav1.ConditionFalse, authv1alpha1.ReasonPasswordTooWeak, 2)}, "", "cannot log in (PasswordTooWeak)", true},
		"email taken":                      {[]metav1.Condition{cond(authv1alpha1.ConditionReady, metav1.ConditionFalse, authv1alpha1.ReasonDuplicateEmail, 2)}, "", "cannot log in (DuplicateEmail)", true},
		"password Secret missing":          {[]metav1.Condition{cond(authv1alpha1.ConditionReady, metav1.ConditionFalse, authv1alpha1.ReasonPasswordMissing, 2)}, "", "cannot log in (PasswordMissing)", false},
	} {
		t.Run(name, func(t *testing.T) {
			u := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "u", Generation: 2},
				Status: authv1alpha1.JackUserStatus{Conditions: tc.conditions, PasswordVersion: "v2", PropagatedPasswordVersion: tc.propagatedVersion}}
			err := canLogIn(u)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("canLogIn = %v, want done", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("canLogIn = %v, want an error with %q", err, tc.want)
			}
			if got := errors.As(err, new(*givingUp)); got != tc.givesUp {
				t.Errorf("gives up = %v, want %v (%v)", got, tc.givesUp, err)
			}
		})
	}
}
