package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// A cluster where the install went wrong, as a platform engineer meets it
// in their first minutes: the JackAPIKey CRD is missing (an upgrade that
// did not bring the new CRD), and the webhooks are registered but nothing
// serves them (the operator is not running). Its own API server, with
// only the other CRDs; no operator.
func TestOnABrokenInstallEveryVerbNamesTheFix(t *testing.T) {
	env, err := testenv.Start(scheme, testenv.WithWebhooks(),
		testenv.WithCRDs("auth.jack.io_jackusers.yaml", "auth.jack.io_signingkeys.yaml", "auth.jack.io_tokenrevocations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	broken := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(broken, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("doctor", func(t *testing.T) {
		r := pluginAt(t, broken, "default", "", "doctor")
		for _, want := range []string{
			"PROBLEM  CRDs: the API server does not serve jackapikeys.auth.jack.io at auth.jack.io/v1alpha1\n" +
				"         fix: install the CRDs of the operator's version",
			"PROBLEM  operator: not found",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("doctor did not say %q:\n%s", want, r)
			}
		}
		if r.code != 1 || !strings.Contains(r.stderr, "error: doctor found 2 problems: each fix is above") {
			t.Errorf("want exit 1 and the count:\n%s", r)
		}
	})

	t.Run("a verb on the missing kind", func(t *testing.T) {
		r := pluginAt(t, broken, "default", "", "apikey", "create", "feed", "--role", "staff")
		want := "error: the JackAPIKey feed cannot be created: the API server does not serve JackAPIKey (auth.jack.io/v1alpha1): " +
			"the CRDs of jack-operator are not installed, or are older than this plugin; kubectl jack doctor says which"
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("want exit 1 saying %q:\n%s", want, r)
		}
	})

	t.Run("a webhook nothing serves", func(t *testing.T) {
		r := pluginAt(t, broken, "default", "", "user", "add", "alice", "--email", "alice@example.com", "--role", "staff", "--generate")
		for _, want := range []string{
			`error: the JackUser alice cannot be created: Internal error occurred: failed calling webhook "vjackuser.auth.jack.io"`,
			"the operator serves this webhook; is it running and ready? kubectl jack doctor says what is wrong",
		} {
			if r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Errorf("want exit 1 saying %q:\n%s", want, r)
			}
		}
		if strings.Contains(r.stdout+r.stderr, "shown once") {
			t.Errorf("a password was printed for a user that was not created:\n%s", r)
		}
		var users authv1alpha1.JackUserList
		if err := env.Client.List(context.Background(), &users); err != nil || len(users.Items) > 0 {
			t.Errorf("JackUsers were left behind (%v): %d", err, len(users.Items))
		}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "alice-password"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("the Secret alice-password was left behind: %v", err)
		}
	})
}
