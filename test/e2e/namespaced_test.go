//go:build e2e

package e2e

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// The namespaces of the namespace-scoped install: the one it watches, and
// one that asks for everything but is not in the list.
const (
	scopedNS  = "e2e-scoped"
	outsideNS = "e2e-outside"
)

// TestNamespaceScopedInstall installs the chart, after the journey
// uninstalled it, in namespace-scoped mode (watchNamespaces=[e2e-scoped]):
// the operator runs with Roles in that namespace instead of its
// ClusterRole's namespaced rules. There, a SigningKey and a JackUser become
// Ready, jack-echo's pod is injected, and the user logs in at its sidecar.
// In a namespace not in the list, with the injection label, the same
// objects get nothing: no sidecar, no Secret, no status. Then it uninstalls.
func TestNamespaceScopedInstall(t *testing.T) {
	start := time.Now()
	cleanup := func() {
		_, _ = c.try("helm", "uninstall", release, "-n", operatorNS, "--wait")
		for _, ns := range []string{scopedNS, outsideNS} {
			_ = c.k8s.Delete(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		}
	}
	cleanup() // the journey's release, or a previous run's
	poll.Within(t, 3*time.Minute, "a previous run's namespaces are gone", func() bool {
		for _, ns := range []string{scopedNS, outsideNS} {
			if !apierrors.IsNotFound(c.k8s.Get(ctx(), types.NamespacedName{Name: ns}, &corev1.Namespace{})) {
				return false
			}
		}
		return true
	})
	t.Cleanup(cleanup)

	// The watched namespace exists before the install, which puts a Role in it.
	for _, ns := range []string{scopedNS, outsideNS} {
		must(t, c.k8s.Create(ctx(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{jack.LabelInjection: jack.InjectionEnabled}}}))
	}
	c.run(t, "helm", append(append([]string{"upgrade", "--install", release, "charts/jack-operator", "-n", operatorNS, "--create-namespace"},
		pushedImages(t, "dev").chartValues()...), "--set", "watchNamespaces={"+scopedNS+"}", "--wait", "--timeout", "3m")...)
	t.Logf("helm install --wait in namespace-scoped mode: %s", time.Since(start).Round(time.Second))
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: scopedNS, Name: release}, &rbacv1.Role{}))

	ada := users[0]
	for _, ns := range []string{outsideNS, scopedNS} {
		must(t, c.k8s.Create(ctx(), &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: ns}}))
		must(t, c.k8s.Create(ctx(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ada.name + "-password", Namespace: ns},
			StringData: map[string]string{"password": ada.password}}))
		// The validating webhook admits it in the watched namespace once the
		// operator's certificate is trusted, and is not called outside.
		ju := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: ada.name, Namespace: ns},
			Spec: authv1alpha1.JackUserSpec{Email: ada.email, Name: ada.name, Role: jack.Role(ada.role),
				PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: ada.name + "-password"}}}
		poll.Within(t, time.Minute, "JackUser "+ns+"/"+ada.name+" admitted", func() bool {
			return client.IgnoreAlreadyExists(c.k8s.Create(ctx(), ju.DeepCopy())) == nil
		})
	}
	poll.Within(t, time.Minute, "the watched namespace's SigningKey and JackUser are Ready", func() bool {
		var key authv1alpha1.SigningKey
		var ju authv1alpha1.JackUser
		return c.k8s.Get(ctx(), types.NamespacedName{Namespace: scopedNS, Name: "jack"}, &key) == nil &&
			meta.IsStatusConditionTrue(key.Status.Conditions, authv1alpha1.ConditionReady) &&
			c.k8s.Get(ctx(), types.NamespacedName{Namespace: scopedNS, Name: ada.name}, &ju) == nil &&
			meta.IsStatusConditionTrue(ju.Status.Conditions, authv1alpha1.ConditionReady)
	})

	for _, ns := range []string{outsideNS, scopedNS} {
		createEcho(t, ns)
	}
	var pods []corev1.Pod
	poll.Within(t, 2*time.Minute, "jack-echo Ready in both namespaces", func() bool {
		pods = readyPodsIn(t, scopedNS)
		return len(pods) == 1 && len(readyPodsIn(t, outsideNS)) == 1
	})
	if !hasSidecar(pods[0]) {
		t.Errorf("pod %s/%s in the watched namespace has no jack-auth sidecar: %v", scopedNS, pods[0].Name, pods[0].Spec.InitContainers)
	}
	s := c.login(t, sidecarAddr(pods[0]), ada.email, ada.password).session(t)
	if s.User.Email != ada.email || s.User.Role != ada.role {
		t.Errorf("logged in at the watched namespace's sidecar as %+v", s.User)
	}

	outside := readyPodsIn(t, outsideNS)[0]
	if hasSidecar(outside) || outside.Annotations[jack.AnnotationInjectedVersion] != "" {
		t.Errorf("pod %s/%s, in a namespace the operator does not watch, was injected", outsideNS, outside.Name)
	}
	for _, name := range []string{"jack-jwt", jack.UserDirectorySecretName} {
		if err := c.k8s.Get(ctx(), types.NamespacedName{Namespace: outsideNS, Name: name}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("Secret %s/%s, in a namespace the operator does not watch: err = %v, want NotFound", outsideNS, name, err)
		}
	}
	var key authv1alpha1.SigningKey
	must(t, c.k8s.Get(ctx(), types.NamespacedName{Namespace: outsideNS, Name: "jack"}, &key))
	if len(key.Status.Conditions) > 0 || len(key.Finalizers) > 0 {
		t.Errorf("SigningKey %s/jack, in a namespace the operator does not watch, was acted on: finalizers %v, conditions %v", outsideNS, key.Finalizers, key.Status.Conditions)
	}

	c.run(t, "helm", "uninstall", release, "-n", operatorNS, "--wait", "--timeout", "2m")
	if err := c.k8s.Get(ctx(), types.NamespacedName{Namespace: scopedNS, Name: release}, &rbacv1.Role{}); !apierrors.IsNotFound(err) {
		t.Errorf("the operator's Role in %s after uninstall: err = %v, want NotFound", scopedNS, err)
	}
	t.Logf("the namespace-scoped phase took %s", time.Since(start).Round(time.Second))
}

// createEcho runs one replica of jack-echo that asks for the sidecar.
func createEcho(t *testing.T, namespace string) {
	t.Helper()
	must(t, c.k8s.Create(ctx(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-echo", Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "jack-echo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "jack-echo", jack.LabelInject: jack.InjectRequested}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "jack-echo", Image: pushedImages(t, "dev").echoRef(), ImagePullPolicy: corev1.PullIfNotPresent,
					Args: []string{"--listen=127.0.0.1:3000"},
				}}},
			},
		},
	}))
}

func hasSidecar(p corev1.Pod) bool {
	return slices.ContainsFunc(append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...),
		func(c corev1.Container) bool { return c.Name == jack.SidecarContainerName })
}
