package main

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// The key and inject verbs are internal/jackctl's, tested there at length;
// these tests check that the plugin runs them against the cluster it was
// pointed at, with their flags, and that none prints key material.

func TestKeyVerbsRunAgainstTheOperator(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	k := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jack"}}
	k.Spec.Rotation.Prepublish = metav1.Duration{Duration: 10 * time.Second} // the least the API allows
	k.Spec.Rotation.PropagationTimeout = metav1.Duration{Duration: time.Minute}
	if err := k8s.Create(ctx, k); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, "an active key", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil {
			return err
		}
		if k.Status.ActiveKeyID == "" {
			return errors.New("none yet")
		}
		return nil
	})
	first := k.Status.ActiveKeyID
	var secret corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: k.SecretName()}, &secret); err != nil {
		t.Fatal(err)
	}
	material := string(secret.Data[jack.SecretKeyJWTSecret])

	r := mustSucceed(t, ns, "", "key", "status")
	noSecretIn(t, r, material)
	if !strings.Contains(r.stdout, first) {
		t.Errorf("key status does not list the active key %s:\n%s", first, r)
	}

	start := time.Now()
	r = mustSucceed(t, ns, "", "key", "rotate", "jack", "--wait", "--timeout", "90s")
	t.Logf("key rotate --wait took %s", time.Since(start).Round(time.Millisecond))
	noSecretIn(t, r, material)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil {
		t.Fatal(err)
	}
	if k.Status.ActiveKeyID == first {
		t.Fatalf("key rotate --wait returned with the old key active:\n%s", r)
	}

	// Revoking asks first; anything but "yes" changes nothing.
	mustFail(t, ns, "no\n", "not revoked", "key", "revoke", "jack", first)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil {
		t.Fatal(err)
	}
	if len(k.Spec.RevokedKeyIDs) > 0 {
		t.Fatalf("revoked without a yes: %v", k.Spec.RevokedKeyIDs)
	}
	r = mustSucceed(t, ns, "", "key", "revoke", "jack", first, "--yes")
	noSecretIn(t, r, material)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(k.Spec.RevokedKeyIDs, first) {
		t.Errorf("key revoke --yes did not list %s: %v", first, k.Spec.RevokedKeyIDs)
	}
	mustFail(t, ns, "", "key revoke needs NAME", "key", "revoke", "jack")
}

func TestInjectExplainSaysWhyAPodIsNotInjected(t *testing.T) {
	ns := newNamespace(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "jack:1"}}}}
	if err := k8s.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	r := mustSucceed(t, ns, "", "inject", "explain", "pod/web")
	if !strings.Contains(r.stdout, "pod "+ns+"/web") || !strings.Contains(r.stdout, "NamespaceNotEnabled") {
		t.Errorf("inject explain printed nothing about pod web:\n%s", r)
	}
	t.Logf("inject explain pod/web:\n%s", r.stdout)
	mustFail(t, ns, "", "nowhere", "inject", "explain", "pod/nowhere")
}

func TestDoctorReportsAMissingOperatorWithExitCode1(t *testing.T) {
	ns := newNamespace(t)
	// The suite's operator runs in-process, not as a Deployment: doctor
	// does not find one, which is a problem with a fix.
	r := plugin(t, ns, "", "doctor")
	if r.code != 1 || !strings.Contains(r.stderr, "error: doctor found a problem: its fix is above") ||
		!strings.Contains(r.stdout, "PROBLEM  operator: not found\n         fix: install it: helm install") {
		t.Errorf("want the checks on stdout and exit 1 with a count of problems:\n%s", r)
	}
	// The count is said once, not by the checks and again by the command.
	if n := len(problemCount.FindAllString(r.stdout+r.stderr, -1)); n != 1 {
		t.Errorf("the number of problems is said %d times, want once:\n%s", n, r)
	}
	t.Logf("doctor:\n%s", r)
}

// problemCount matches a sentence counting doctor's problems.
var problemCount = regexp.MustCompile(`(?i)(\d+|a|no) problems?(\(s\))? found|found (\d+|a|no) problems?`)
