package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/apikey"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

func getKey(t *testing.T, ns, name string) *authv1alpha1.JackAPIKey {
	t.Helper()
	k := &authv1alpha1.JackAPIKey{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, k); err != nil {
		t.Fatalf("reading JackAPIKey %s: %v", name, err)
	}
	return k
}

// checkCurrent fails the test unless value is a well-formed key, the one
// the key's Secret holds and its status names as current.
func checkCurrent(t *testing.T, ns, name, value string) {
	t.Helper()
	if err := apikey.Check(value); err != nil {
		t.Fatalf("the printed key is not a key: %v", err)
	}
	k := getKey(t, ns, name)
	cur, ok := currentValue(k)
	if !ok || cur.Digest != apikey.Digest(value) {
		t.Errorf("the printed key is not the current value of the status: %+v", k.Status.Values)
	}
	if got := string(getSecret(t, ns, name+jack.APIKeySecretSuffix).Data[jack.SecretKeyAPIKey]); got != value {
		t.Error("the printed key is not the one in the Secret")
	}
}

func TestAPIKeyCreatePrintsTheOperatorsKeyOnce(t *testing.T) {
	ns := newNamespace(t)
	before := time.Now()
	r := mustSucceed(t, ns, "", "apikey", "create", "billing", "--role", "manager", "--expires", "90d",
		"--routes", "GET /api/v1/reports/**,/api/v1/tasks", "--owner", "billing@example.com", "--display-name", "billing export")
	value := shownOnce(t, r.stdout, "API key billing")
	if strings.Contains(r.stderr, value) {
		t.Errorf("the key is also on stderr:\n%s", r)
	}
	checkCurrent(t, ns, "billing", value)
	k := getKey(t, ns, "billing")
	if k.Spec.Role != jack.RoleManager || k.Spec.Owner != "billing@example.com" || k.Spec.DisplayName != "billing export" ||
		!slices.Equal(k.Spec.Routes, []string{"GET /api/v1/reports/**", "/api/v1/tasks"}) {
		t.Errorf("spec = %+v", k.Spec)
	}
	if k.Spec.Expires == nil || k.Spec.Expires.Sub(before) < 90*24*time.Hour-time.Second || k.Spec.Expires.Sub(before) > 90*24*time.Hour+time.Minute {
		t.Errorf("--expires 90d gave %v", k.Spec.Expires)
	}
	if !strings.Contains(r.stdout, "jackapikey/billing created: role manager, id "+k.Status.ID) {
		t.Errorf("no sentence naming the key's id:\n%s", r)
	}

	// -o yaml: the object on stdout, the key on stderr, once.
	r = mustSucceed(t, ns, "", "apikey", "create", "export", "--role", "staff", "--expires", "2099-01-31T00:00:00Z", "-o", "json")
	value2 := shownOnce(t, r.stderr, "API key export")
	noSecretIn(t, result{stdout: r.stdout}, value2)
	var k2 authv1alpha1.JackAPIKey
	if err := json.Unmarshal([]byte(r.stdout), &k2); err != nil || k2.Kind != "JackAPIKey" || k2.Status.SecretName != "export-apikey" {
		t.Errorf("-o json did not print the ready JackAPIKey (%v):\n%s", err, r)
	}
	checkCurrent(t, ns, "export", value2)
	if value == value2 {
		t.Error("two keys have the same value")
	}

	// --wait=false: created, no key printed.
	r = mustSucceed(t, ns, "", "apikey", "create", "later", "--role", "staff", "--wait=false")
	if strings.Contains(r.stdout+r.stderr, apikey.Prefix) {
		t.Errorf("--wait=false printed a key:\n%s", r)
	}
}

func TestAPIKeyCreateRefusedByTheAPIServerLeavesNothing(t *testing.T) {
	ns := newNamespace(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"a route without a slash": {[]string{"--role", "staff", "--routes", "tasks"},
			`each route must be "/path" or "METHOD /path", such as "GET /api/v1/tasks/**"`},
		"an unknown role": {[]string{"--role", "boss"}, `spec.role: Unsupported value: "boss"`},
		"no role":         {nil, "--role is required: admin, manager or staff"},
		"a past duration": {[]string{"--role", "staff", "--expires", "-1h"}, `--expires must be in the future`},
		"a bad expiry":    {[]string{"--role", "staff", "--expires", "tomorrow"}, `--expires must be an RFC 3339 time (2027-01-31T00:00:00Z) or a duration (720h, 90d), not "tomorrow"`},
	} {
		t.Run(name, func(t *testing.T) {
			mustFail(t, ns, "", tc.want, append([]string{"apikey", "create", "bad"}, tc.args...)...)
			var keys authv1alpha1.JackAPIKeyList
			if err := k8s.List(context.Background(), &keys); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys.Items {
				if k.Namespace == ns {
					t.Errorf("JackAPIKey %s was left behind", k.Name)
				}
			}
		})
	}
}

func TestAPIKeyRotate(t *testing.T) {
	ns := newNamespace(t)
	r := mustSucceed(t, ns, "", "apikey", "create", "sync", "--role", "staff")
	first := shownOnce(t, r.stdout, "API key sync")

	// Without --print: rotated, nothing secret printed.
	r = mustSucceed(t, ns, "", "apikey", "rotate", "sync", "--timeout", "30s")
	noSecretIn(t, r, first)
	if strings.Contains(r.stdout+r.stderr, apikey.Prefix) {
		t.Errorf("rotate without --print printed a key:\n%s", r)
	}
	k := getKey(t, ns, "sync")
	if k.Status.LastRotateRequest == "" || k.Status.LastRotateRequest != k.Annotations[jack.AnnotationRotate] {
		t.Errorf("rotate returned before the operator acted: %q, annotation %q", k.Status.LastRotateRequest, k.Annotations[jack.AnnotationRotate])
	}
	cur, _ := currentValue(k)
	if cur.Digest == apikey.Digest(first) {
		t.Error("the current value did not change")
	}
	if !strings.Contains(r.stdout, "jackapikey/sync rotated: the new value, ending "+cur.Last4) ||
		!strings.Contains(r.stdout, "the previous one, ending "+apikey.Last4(first)+", works until") {
		t.Errorf("unexpected output:\n%s", r)
	}

	// With --print: the new value, once; and again a new one.
	r = mustSucceed(t, ns, "", "apikey", "rotate", "sync", "--print")
	third := shownOnce(t, r.stdout, "New API key sync")
	checkCurrent(t, ns, "sync", third)
	noSecretIn(t, r, first)
	if third == first {
		t.Error("rotate --print printed the first value")
	}
	mustFail(t, ns, "", "there is no JackAPIKey nobody in namespace "+ns, "apikey", "rotate", "nobody")
}

func TestAPIKeyDisableAndEnable(t *testing.T) {
	ns := newNamespace(t)
	r := mustSucceed(t, ns, "", "apikey", "create", "ci", "--role", "staff")
	value := shownOnce(t, r.stdout, "API key ci")

	r = mustSucceed(t, ns, "", "apikey", "disable", "ci")
	noSecretIn(t, r, value)
	if strings.TrimSpace(r.stdout) != "jackapikey/ci disabled" || !getKey(t, ns, "ci").Spec.Disabled {
		t.Errorf("apikey disable did not disable ci:\n%s", r)
	}
	poll.Until(t, 20*time.Second, "ci reported disabled", func() error {
		c := meta.FindStatusCondition(getKey(t, ns, "ci").Status.Conditions, authv1alpha1.ConditionReady)
		if c == nil || c.Reason != authv1alpha1.ReasonAPIKeyDisabled {
			return fmt.Errorf("Ready is %+v", c)
		}
		return nil
	})
	r = mustSucceed(t, ns, "", "apikey", "enable", "ci", "-o", "json")
	noSecretIn(t, r, value)
	if getKey(t, ns, "ci").Spec.Disabled {
		t.Error("apikey enable left ci disabled")
	}
	// The same value works again.
	poll.Until(t, 20*time.Second, "ci ready with its value", func() error {
		k := getKey(t, ns, "ci")
		if cur, _ := currentValue(k); !meta.IsStatusConditionTrue(k.Status.Conditions, authv1alpha1.ConditionReady) || cur.Digest != apikey.Digest(value) {
			return fmt.Errorf("status %+v", k.Status)
		}
		return nil
	})
	mustFail(t, ns, "", "there is no JackAPIKey nobody", "apikey", "disable", "nobody")
}
