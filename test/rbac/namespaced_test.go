package rbac

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// outsideNS is a namespace that the namespace-scoped operator does not
// watch, though it asks for everything the operator does.
const outsideNS = "outside"

// The chart's namespace-scoped mode (watchNamespaces) is exactly what the
// operator needs there: the chart rendered with watchNamespaces=[shop,
// reports] grants the operator its namespaced permissions only by a Role in
// each of them, and cluster-wide only reading namespaces and its two webhook
// configurations by name. The operator, built from that rendering's
// Deployment arguments (--watch-namespaces), runs as the chart's
// ServiceAccount through the same reconcile paths and both webhooks in the
// watched namespaces, and the API server refuses it nothing. A namespace
// outside the list, with a SigningKey, a JackUser and a pod asking for the
// sidecar, is left alone: no Secret, no status, no sidecar, and the
// webhooks are not even called for it (their namespaceSelector), so its
// JackUser is admitted although the operator could not check it.
func TestTheChartGrantsWhatTheOperatorNeedsInNamespaceScopedMode(t *testing.T) {
	start := time.Now()
	watched := []string{shopNS, reportsNS}
	in := installChart(t, map[string]any{"watchNamespaces": watched})
	logStart := operatorLogs.Len()
	op := in.startOperator(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the operator's logs:\n%s", withoutStacktraces(operatorLogs.String()[logStart:]))
		}
	})
	if !slices.Equal(op.options.WatchNamespaces, watched) {
		t.Fatalf("the chart's Deployment passes --watch-namespaces %v, want %v (args %v)", op.options.WatchNamespaces, watched, in.args)
	}
	s := &scenario{in: in, op: op, c: in.admin}

	t.Run("every reconcile path runs in the watched namespaces and nothing is forbidden", func(t *testing.T) {
		defer func() {
			if f := op.forbidden.since(0); len(f) > 0 {
				t.Errorf("the API server refused the operator, running with the chart's namespace-scoped RBAC:\n  %s", strings.Join(f, "\n  "))
			}
			if lines := forbiddenLogLines(logStart); len(lines) > 0 {
				t.Errorf("the operator logged refusals:\n%s", strings.Join(lines, "\n"))
			}
		}()
		s.leaderElection(t)
		s.webhookCertificates(t)
		s.signingKeys(t)
		s.jackUsers(t)
		s.podInjection(t)
		s.sidecarAccessFollowsTheSigningKeys(t)
		s.tokenRevocation(t)
		s.events(t)
		s.outsideIsLeftAlone(t)
	})

	t.Run("the operator may not touch Secrets outside the watched namespaces", func(t *testing.T) {
		ctx := context.Background()
		for _, verb := range []string{"get", "list", "create"} {
			if err := in.mayNot(ctx, verb, "", "secrets", outsideNS); err != nil {
				t.Errorf("in namespace %s: %v", outsideNS, err)
			}
		}
		if err := in.mayNot(ctx, "list", "", "secrets", ""); err != nil {
			t.Errorf("in every namespace: %v", err)
		}
	})
	t.Logf("the whole test took %s", time.Since(start).Round(time.Millisecond))
}

// outsideIsLeftAlone: everything the operator acts on, in a namespace it
// does not watch. A SigningKey made later in a watched namespace becoming
// Ready shows the operator was at work meanwhile.
func (s *scenario) outsideIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	s.namespace(t, outsideNS, map[string]string{jack.LabelInjection: jack.InjectionEnabled})
	key := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: outsideNS}}
	s.create(t, key)
	s.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bo-password", Namespace: outsideNS},
		Data: map[string][]byte{"password": []byte("correct horse battery staple")}})
	// The validating webhook is not called here: the operator, whose cache
	// holds no JackUsers of this namespace, would refuse it.
	s.create(t, &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "bo", Namespace: outsideNS}, Spec: authv1alpha1.JackUserSpec{
		Email: "bo@example.com", Name: "Bo", Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "bo-password"}}})
	// Nor is the injection webhook: the pod is admitted as it came.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: outsideNS, Labels: map[string]string{jack.LabelInject: jack.InjectRequested}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1.0"}}},
	}
	s.create(t, pod)
	if len(pod.Spec.InitContainers) > 0 || len(pod.Spec.Containers) != 1 || pod.Annotations[jack.AnnotationInjectedVersion] != "" {
		t.Errorf("a pod in unwatched namespace %s was injected: init containers %d, containers %d, annotations %v",
			outsideNS, len(pod.Spec.InitContainers), len(pod.Spec.Containers), pod.Annotations)
	}

	later := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: shopNS}}
	s.create(t, later)
	s.waitKey(t, later, "Ready", func(*authv1alpha1.SigningKey) error { return nil })
	// Give a stray reconcile of the unwatched namespace a moment more.
	time.Sleep(2 * time.Second)

	var secrets corev1.SecretList
	if err := s.c.List(ctx, &secrets, client.InNamespace(outsideNS)); err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets.Items {
		if sec.Name != "bo-password" {
			t.Errorf("the operator made Secret %s/%s in a namespace it does not watch", outsideNS, sec.Name)
		}
	}
	if err := s.c.Get(ctx, client.ObjectKeyFromObject(key), key); err != nil {
		t.Fatal(err)
	}
	if len(key.Status.Conditions) > 0 || len(key.Status.Keys) > 0 || len(key.Finalizers) > 0 {
		t.Errorf("the operator acted on SigningKey %s/%s in a namespace it does not watch: finalizers %v, status %+v", outsideNS, key.Name, key.Finalizers, key.Status)
	}
	u := &authv1alpha1.JackUser{}
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: outsideNS, Name: "bo"}, u); err != nil {
		t.Fatal(err)
	}
	if len(u.Status.Conditions) > 0 || u.Status.ID != "" {
		t.Errorf("the operator acted on JackUser %s/bo in a namespace it does not watch: status %+v", outsideNS, u.Status)
	}
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: outsideNS, Name: jack.SidecarRoleName}, &rbacv1.Role{}); !apierrors.IsNotFound(err) {
		t.Errorf("the sidecars' Role in namespace %s, which the operator does not watch: err = %v, want NotFound", outsideNS, err)
	}
}
