//go:build e2e

package e2e

import (
	"net/http"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/apikey"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// apiKeys creates a JackAPIKey as a platform engineer would and uses it as
// an integration would: it reaches exactly its role's routes, through the
// proxy and through /auth, Jack is told it is an API key, it cannot log in,
// and once disabled both replicas refuse it within the propagation bound.
func (j *journey) apiKeys(t *testing.T) {
	const role = "manager"
	must(t, c.k8s.Create(ctx(), &authv1alpha1.JackAPIKey{
		ObjectMeta: metav1.ObjectMeta{Name: "reports-export", Namespace: shop},
		Spec:       authv1alpha1.JackAPIKeySpec{Role: role, DisplayName: "the e2e's export", Owner: "e2e@example.com"},
	}))
	created := time.Now()
	var key authv1alpha1.JackAPIKey
	poll.Within(t, time.Minute, "the JackAPIKey is Ready with its Secret", func() bool {
		return c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: "reports-export"}, &key) == nil &&
			meta.IsStatusConditionTrue(key.Status.Conditions, authv1alpha1.ConditionReady) && key.Status.SecretName != ""
	})
	var secret corev1.Secret
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: shop, Name: key.Status.SecretName}, &secret))
	value := string(secret.Data[jack.SecretKeyAPIKey])
	if err := apikey.Check(value); err != nil || len(key.Status.Values) != 1 || key.Status.Values[0].Digest != apikey.Digest(value) {
		t.Fatalf("the Secret's key (%v) does not match the status %+v", err, key.Status.Values)
	}
	poll.Within(t, time.Minute, "both replicas accept the new key", func() bool {
		return !slices.ContainsFunc(j.pods, func(p corev1.Pod) bool { return !verifies(t, sidecarAddr(p), value) })
	})
	t.Logf("the key works at both replicas %s after it was created", time.Since(created).Round(time.Millisecond))

	svc := serviceAddr(t)
	for _, r := range resources {
		want := slices.Contains(allowed[role], r)
		a := c.do(t, "GET", svc, "/api/v1/"+r, bearer(value), "")
		switch {
		case want && a.Status == http.StatusOK:
			e := a.echo(t)
			if e.User.Role != role || e.User.Email != "" ||
				!slices.Equal(e.Headers[jack.HeaderUserKind], []string{jack.UserKindAPIKey}) ||
				!slices.Equal(e.Headers[jack.HeaderAPIKeyID], []string{key.Status.ID}) {
				t.Errorf("the key on %s: the app saw %+v, headers %v", r, e.User, e.Headers)
			}
		case !want && a.Status == http.StatusForbidden && a.Body.Error.Code == "FORBIDDEN":
		default:
			t.Errorf("the key GET /api/v1/%s through the proxy: %d %s (allowed: %v)", r, a.Status, a.Raw, want)
		}
		fa := c.do(t, "GET", svc, "/auth", map[string]string{"Authorization": "Bearer " + value,
			"X-Original-Method": "GET", "X-Original-URI": "/api/v1/" + r}, "")
		if (fa.Status == http.StatusOK) != want {
			t.Errorf("the key at /auth for /api/v1/%s: %d %s (allowed: %v)", r, fa.Status, fa.Raw, want)
		}
	}
	if a := c.do(t, "POST", svc, "/api/v1/auth/refresh", bearer(value), ""); a.Body.Error.Code != "API_KEY_NOT_ALLOWED" {
		t.Errorf("a refresh with the key: %d %s", a.Status, a.Raw)
	}
	// A made-up key of the right shape: refused, without a lookup.
	if a := c.do(t, "GET", svc, "/api/v1/tasks", bearer(value[:len(value)-1]+"x"), ""); a.Status != http.StatusUnauthorized || a.Body.Error.Code != "TOKEN_INVALID" {
		t.Errorf("a mistyped key: %d %s", a.Status, a.Raw)
	}

	patch := client.MergeFrom(key.DeepCopy())
	key.Spec.Disabled = true
	must(t, c.k8s.Patch(ctx(), &key, patch))
	start := time.Now()
	poll.Within(t, propagationBound, "both replicas refuse the disabled key", func() bool {
		return !slices.ContainsFunc(j.pods, func(p corev1.Pod) bool { return verifies(t, sidecarAddr(p), value) })
	})
	t.Logf("the disabled key is refused by both replicas %s after the patch", time.Since(start).Round(time.Millisecond))
	if a := c.do(t, "GET", svc, "/api/v1/tasks", bearer(value), ""); a.Status != http.StatusUnauthorized || a.Body.Error.Code != "TOKEN_INVALID" {
		t.Errorf("the disabled key: %d %s", a.Status, a.Raw)
	}
}
