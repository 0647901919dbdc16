package controllers

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// userHarness drives a JackUserReconciler by hand with a fake clock, against
// the real API server, capturing its events and logs.
type userHarness struct {
	t      *testing.T
	ns     string
	clock  *clocktesting.FakeClock
	events *recordedEvents
	logs   bytes.Buffer
	r      *JackUserReconciler
}

func newUserHarness(t *testing.T) *userHarness {
	h := &userHarness{t: t, ns: newNamespace(t), clock: clocktesting.NewFakeClock(epoch), events: &recordedEvents{}}
	h.r = &JackUserReconciler{Client: k8s, Recorder: h.events, Clock: h.clock, HashParams: testHashParams, MinPasswordLength: password.DefaultMinLength}
	return h
}

func (h *userHarness) reconcile() {
	h.t.Helper()
	log := funcr.New(func(prefix, args string) { h.logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 5})
	ctx := logf.IntoContext(context.Background(), log)
	res, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: h.ns, Name: jack.UserDirectorySecretName}})
	if err != nil {
		h.t.Fatalf("reconcile of %s: %v", h.ns, err)
	}
	if res.RequeueAfter != 0 {
		h.t.Fatalf("reconcile of %s lost a race nobody else runs", h.ns)
	}
}

func (h *userHarness) setPassword(secret, pw string) {
	h.t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: h.ns}}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(s), s); err == nil {
		s.Data = map[string][]byte{"password": []byte(pw)}
		if err := k8s.Update(ctx, s); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	s.StringData = map[string]string{"password": pw}
	if err := k8s.Create(ctx, s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *userHarness) createUser(name, email string, role jack.Role, secret string) {
	h.t.Helper()
	u := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, Spec: authv1alpha1.JackUserSpec{
		Email: email, Name: name, Role: role, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: secret},
	}}
	if err := k8s.Create(context.Background(), u); err != nil {
		h.t.Fatalf("creating JackUser %s: %v", name, err)
	}
}

func (h *userHarness) user(name string) *authv1alpha1.JackUser {
	h.t.Helper()
	return getObject(h.t, h.ns, name, &authv1alpha1.JackUser{})
}

func (h *userHarness) updateUser(name string, change func(*authv1alpha1.JackUser)) {
	h.t.Helper()
	updateObject(h.t, h.user(name), change)
}

// directory decodes the namespace's user directory Secret.
func (h *userHarness) directory() (*userdir.Directory, *corev1.Secret) {
	h.t.Helper()
	return readDirectory(h.t, h.ns)
}

func readDirectory(t *testing.T, ns string) (*userdir.Directory, *corev1.Secret) {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: jack.UserDirectorySecretName}, s); err != nil {
		t.Fatalf("reading the user directory: %v", err)
	}
	d, err := userdir.Decode(s.Data[jack.SecretKeyUserDirectory])
	if err != nil {
		t.Fatalf("decoding the user directory: %v", err)
	}
	return d, s
}

// entry is the directory's entry for an email, or nil.
func (h *userHarness) entry(email string) *userdir.User {
	h.t.Helper()
	d, _ := h.directory()
	u, _ := d.Index().ByEmail(email)
	return u
}

func verifies(t *testing.T, u *userdir.User, pw string) bool {
	t.Helper()
	if u == nil || u.PasswordHash == "" {
		return false
	}
	ok, err := password.Verify(u.PasswordHash, pw)
	if err != nil {
		t.Fatalf("the directory's hash is unusable: %v", err)
	}
	return ok
}

func readyOf(u *authv1alpha1.JackUser) (string, string) {
	for _, c := range u.Status.Conditions {
		if c.Type == authv1alpha1.ConditionReady {
			return string(c.Status), c.Reason
		}
	}
	return "", ""
}

// sameInstant reports whether a status time shows b: rounded up to the
// second (see ceilSecond).
func sameInstant(a *metav1.Time, b time.Time) bool {
	return a != nil && a.Time.Equal(ceilSecond(b))
}

func TestCeilSecond(t *testing.T) {
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in, want time.Time
	}{
		{base, base},
		{base.Add(time.Nanosecond), base.Add(time.Second)},
		{base.Add(999 * time.Millisecond), base.Add(time.Second)},
		{base.Add(time.Second), base.Add(time.Second)},
	} {
		if got := ceilSecond(tc.in); !got.Equal(tc.want) {
			t.Errorf("ceilSecond(%s) = %s, want %s", tc.in.Format(time.RFC3339Nano), got, tc.want)
		}
		// A token issued (whole seconds) before the exact time is refused by
		// the rounded one too, and one issued at or after it is not.
		for iat := base.Add(-2 * time.Second); iat.Before(base.Add(3 * time.Second)); iat = iat.Add(time.Second) {
			if iat.Before(tc.in) != iat.Before(ceilSecond(tc.in)) {
				t.Errorf("a token issued at %s: refused by %s is %v, by its rounding %v", iat, tc.in, iat.Before(tc.in), !iat.Before(tc.in))
			}
		}
	}
}
