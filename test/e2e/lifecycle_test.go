//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

const (
	// unprotected is where a pod comes to run without the sidecar it asks for.
	unprotected = "e2e-unprotected"
	// emptied is where every JackUser and SigningKey is deleted.
	emptied = "e2e-emptied"
)

// missedInjection makes the pod a cluster can end up with: it asks for the
// sidecar (label auth.jack.io/inject=true) and was created before its
// namespace was labelled for injection, so the webhook never saw it. The
// operator's detector must put a SidecarMissing event on it (what kubectl
// describe pod shows) and count it in jack_pods_missing_sidecar.
func (j *journey) missedInjection(t *testing.T) {
	_ = c.k8s.Delete(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: unprotected}})
	poll.Within(t, 3*time.Minute, "a previous run's namespace is gone", func() bool {
		return apierrors.IsNotFound(c.k8s.Get(ctx(), types.NamespacedName{Name: unprotected}, &corev1.Namespace{}))
	})
	must(t, c.k8s.Create(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: unprotected}}))
	must(t, c.k8s.Create(ctx(), &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: unprotected}}))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-echo-bare", Namespace: unprotected,
			Labels: map[string]string{"app": "jack-echo", jack.LabelInject: jack.InjectRequested}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "jack-echo", Image: pushedImages(t, "dev").echoRef(), ImagePullPolicy: corev1.PullIfNotPresent, Args: []string{"--listen=127.0.0.1:3000"},
		}}},
	}
	must(t, c.k8s.Create(ctx(), pod))
	if hasSidecar(*pod) {
		t.Fatalf("a pod in a namespace without %s=%s was injected", jack.LabelInjection, jack.InjectionEnabled)
	}
	poll.Within(t, 2*time.Minute, "the bare pod runs", func() bool {
		return c.k8s.Get(ctx(), client.ObjectKeyFromObject(pod), pod) == nil && pod.Status.Phase == corev1.PodRunning
	})

	var ns corev1.Namespace
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Name: unprotected}, &ns))
	metav1.SetMetaDataLabel(&ns.ObjectMeta, jack.LabelInjection, jack.InjectionEnabled)
	must(t, c.k8s.Update(ctx(), &ns))

	var note string
	poll.Within(t, time.Minute, "a SidecarMissing event on the bare pod", func() bool {
		var evs eventsv1.EventList
		if c.k8s.List(ctx(), &evs, client.InNamespace(unprotected)) != nil {
			return false
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == pod.Name && e.Reason == "SidecarMissing" && e.Type == corev1.EventTypeWarning {
				note = e.Note
				return true
			}
		}
		return false
	})
	t.Logf("kubectl describe pod shows: %s", note)
	for _, says := range []string{"runs without it", "restart the pod"} {
		if !strings.Contains(note, says) {
			t.Errorf("the event does not say %q: %s", says, note)
		}
	}
	out := c.run(t, "kubectl", "describe", "pod", "-n", unprotected, pod.Name)
	if !strings.Contains(out, "SidecarMissing") {
		t.Errorf("kubectl describe pod does not show the SidecarMissing event:\n%s", out)
	}
	series := fmt.Sprintf(`jack_pods_missing_sidecar{namespace=%q} 1`, unprotected)
	poll.Within(t, time.Minute, "the leader reports "+series, func() bool { return operatorMetrics(t, series) })

	// Restarting it, as the event says, gives it the sidecar and clears the count.
	must(t, c.k8s.Delete(ctx(), pod, client.GracePeriodSeconds(0)))
	poll.Within(t, 2*time.Minute, "the bare pod is gone", func() bool {
		return apierrors.IsNotFound(c.k8s.Get(ctx(), client.ObjectKeyFromObject(pod), &corev1.Pod{}))
	})
	cleared := fmt.Sprintf(`jack_pods_missing_sidecar{namespace=%q} 0`, unprotected)
	poll.Within(t, time.Minute, "the leader reports "+cleared+" or no series", func() bool {
		return operatorMetrics(t, cleared) || !operatorMetrics(t, fmt.Sprintf(`jack_pods_missing_sidecar{namespace=%q}`, unprotected))
	})
	must(t, client.IgnoreNotFound(c.k8s.Delete(ctx(), &ns)))
}

// operatorMetrics reports whether some operator pod's /metrics has a line
// starting with prefix (only the leader runs the controllers).
func operatorMetrics(t testing.TB, prefix string) bool {
	var pods corev1.PodList
	if c.k8s.List(ctx(), &pods, client.InNamespace(operatorNS), client.MatchingLabels{"app.kubernetes.io/name": "jack-operator"}) != nil {
		return false
	}
	for _, p := range pods.Items {
		if p.Status.PodIP == "" {
			continue
		}
		resp, err := c.http.Get("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/metrics")
		if err != nil {
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, prefix) {
				return true
			}
		}
	}
	return false
}

// emptyNamespace deletes every JackUser and SigningKey of a namespace and
// finds nothing with a hash or a key left: the operator deletes the user
// directory, the garbage collector the SigningKey's Secrets and JWKS, the
// operator the sidecars' Role and RoleBinding. Only the password Secrets,
// which the user made, stay.
func (j *journey) emptyNamespace(t *testing.T) {
	_ = c.k8s.Delete(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: emptied}})
	poll.Within(t, 3*time.Minute, "a previous run's namespace is gone", func() bool {
		return apierrors.IsNotFound(c.k8s.Get(ctx(), types.NamespacedName{Name: emptied}, &corev1.Namespace{}))
	})
	must(t, c.k8s.Create(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: emptied}}))
	must(t, c.k8s.Create(ctx(), &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: emptied},
		Spec: authv1alpha1.SigningKeySpec{Algorithm: jack.AlgorithmES256}}))
	must(t, c.k8s.Create(ctx(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ada-password", Namespace: emptied},
		StringData: map[string]string{"password": users[0].password}}))
	must(t, c.k8s.Create(ctx(), &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "ada", Namespace: emptied},
		Spec: authv1alpha1.JackUserSpec{Email: users[0].email, Name: "ada", Role: jack.RoleAdmin,
			PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "ada-password"}}}))
	made := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: jack.UserDirectorySecretName}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jack-jwt"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jack-jwt-backup"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "jack-jwt-jwks"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: jack.SidecarRoleName}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: jack.SidecarRoleName}},
	}
	poll.Within(t, time.Minute, "the operator made the directory, the key ring, the JWKS and the sidecars' access", func() bool {
		for _, o := range made {
			if c.k8s.Get(ctx(), types.NamespacedName{Namespace: emptied, Name: o.GetName()}, o) != nil {
				return false
			}
		}
		return true
	})

	must(t, c.k8s.DeleteAllOf(ctx(), &authv1alpha1.JackUser{}, client.InNamespace(emptied)))
	must(t, c.k8s.DeleteAllOf(ctx(), &authv1alpha1.SigningKey{}, client.InNamespace(emptied)))
	poll.Within(t, time.Minute, "nothing the operator made is left", func() bool {
		for _, o := range made {
			if !apierrors.IsNotFound(c.k8s.Get(ctx(), types.NamespacedName{Namespace: emptied, Name: o.GetName()}, o)) {
				return false
			}
		}
		return true
	})
	var secrets corev1.SecretList
	must(t, c.k8s.List(ctx(), &secrets, client.InNamespace(emptied)))
	for _, s := range secrets.Items {
		if s.Name != "ada-password" {
			t.Errorf("left in %s after its last JackUser and SigningKey: Secret %s", emptied, s.Name)
		}
	}
	must(t, client.IgnoreNotFound(c.k8s.Delete(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: emptied}})))
}
