package rbac

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers"
	"github.com/jack-io/jack-operator/controllers/certs"
	"github.com/jack-io/jack-operator/internal/operator"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// The chart's RBAC is exactly what the operator needs (issue 7): the
// operator, built by internal/operator from the chart's own Deployment arguments,
// runs as the chart's ServiceAccount (impersonated) against a real API
// server holding the chart's ClusterRole, leader election Role, their
// bindings, CRDs and webhook configurations, with leader election on and
// its own webhook certificates. The test drives every reconcile path and
// both webhooks, checks that each did what a user would see, and that the
// API server refused the operator nothing: no 403 on the wire (every client
// the manager makes goes through one recording transport) and none in its
// logs. A negative control takes a rule away and shows the same checks fail.
func TestTheChartGrantsWhatTheOperatorNeeds(t *testing.T) {
	start := time.Now()
	in := installChart(t, nil)
	logStart := operatorLogs.Len()
	op := in.startOperator(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the operator's logs:\n%s", withoutStacktraces(operatorLogs.String()[logStart:]))
		}
	})
	s := &scenario{in: in, op: op, c: in.admin}

	t.Run("every reconcile path runs and nothing is forbidden", func(t *testing.T) {
		// Deferred: a step that times out (t.Fatal) usually does so because
		// of a refusal, which is the more telling message.
		defer func() {
			if f := op.forbidden.since(0); len(f) > 0 {
				t.Errorf("the API server refused the operator, running with the chart's RBAC:\n  %s", strings.Join(f, "\n  "))
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
	})

	t.Run("a rule taken away from the ClusterRole is caught", func(t *testing.T) {
		s.negativeControl(t)
	})

	t.Run("the operator stops and hands back its Lease", func(t *testing.T) {
		before := op.forbidden.count()
		if err := op.stop(); err != nil {
			t.Errorf("the operator stopped with an error: %v", err)
		}
		lease := &coordinationv1.Lease{}
		if err := s.c.Get(context.Background(), client.ObjectKey{Namespace: in.namespace, Name: operator.LeaderElectionID}, lease); err != nil {
			t.Fatal(err)
		}
		if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
			t.Errorf("the Lease is still held by %s after the operator stopped", *h)
		}
		if f := op.forbidden.since(before); len(f) > 0 {
			t.Errorf("refused while stopping:\n  %s", strings.Join(f, "\n  "))
		}
	})
	t.Logf("the whole test took %s", time.Since(start).Round(time.Millisecond))
}

// scenario is what the test does to the cluster, as a user would, step by
// step; each step waits for what the operator should make of it.
type scenario struct {
	in *chartInstall
	op *runningOperator
	c  client.Client
}

// Namespaces of the scenario: shop runs Jack with injection; reports has
// only an asymmetric SigningKey, which is deleted at the end.
const (
	shopNS    = "shop"
	reportsNS = "reports"
)

const timeout = 30 * time.Second

func (s *scenario) leaderElection(t *testing.T) {
	select {
	case <-s.op.elected:
	case <-time.After(timeout):
		t.Fatalf("the operator was not elected leader within %s", timeout)
	}
	lease := &coordinationv1.Lease{}
	if err := s.c.Get(context.Background(), client.ObjectKey{Namespace: s.in.namespace, Name: operator.LeaderElectionID}, lease); err != nil {
		t.Fatalf("the leader's Lease in the release namespace: %v", err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h == "" {
		t.Errorf("the Lease names no holder: %+v", lease.Spec)
	}
}

// webhookCertificates: the leader made the certificates' Secret in the
// release namespace and put its CA in both webhook configurations.
func (s *scenario) webhookCertificates(t *testing.T) {
	ctx := context.Background()
	o := s.op.options
	secret := &corev1.Secret{}
	poll.Until(t, timeout, "the webhook certificate Secret", func() error {
		if err := s.c.Get(ctx, client.ObjectKey{Namespace: s.in.namespace, Name: o.Certs.SecretName}, secret); err != nil {
			return err
		}
		if len(secret.Data[certs.SecretKeyCACert]) == 0 {
			return errors.New("it holds no CA")
		}
		return nil
	})
	ca := secret.Data[certs.SecretKeyCACert]
	poll.Until(t, timeout, "the caBundles", func() error {
		var bundles [][]byte
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := s.c.Get(ctx, client.ObjectKey{Name: o.Certs.Validating}, vwc); err != nil {
			return err
		}
		for _, h := range vwc.Webhooks {
			bundles = append(bundles, h.ClientConfig.CABundle)
		}
		mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := s.c.Get(ctx, client.ObjectKey{Name: o.Certs.Mutating}, mwc); err != nil {
			return err
		}
		for _, h := range mwc.Webhooks {
			bundles = append(bundles, h.ClientConfig.CABundle)
		}
		for i, b := range bundles {
			if !bytes.Contains(b, bytes.TrimSpace(ca)) {
				return fmt.Errorf("webhook %d of %d lacks the Secret's CA", i+1, len(bundles))
			}
		}
		return nil
	})
}

func (s *scenario) signingKeys(t *testing.T) {
	ctx := context.Background()
	s.namespace(t, shopNS, map[string]string{jack.LabelInjection: jack.InjectionEnabled})
	s.namespace(t, reportsNS, nil)

	// An HMAC key that imports the JWT_SECRET Jack used before.
	legacy := make([]byte, 32)
	if _, err := rand.Read(legacy); err != nil {
		t.Fatal(err)
	}
	s.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jack-env", Namespace: shopNS},
		Data: map[string][]byte{jack.SecretKeyJWTSecret: []byte(hex.EncodeToString(legacy))}})
	key := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: shopNS},
		Spec: authv1alpha1.SigningKeySpec{LegacySecretRef: &authv1alpha1.LegacySecretReference{Name: "jack-env"}}}
	s.create(t, key)
	s.waitKey(t, key, "Ready with the legacy key imported", func(k *authv1alpha1.SigningKey) error {
		if !slices.ContainsFunc(k.Status.Keys, func(ks authv1alpha1.KeyStatus) bool { return ks.Legacy }) {
			return fmt.Errorf("no legacy key among %+v", k.Status.Keys)
		}
		return nil
	})
	s.exists(t, &corev1.Secret{}, shopNS, key.SecretName())
	s.rotate(t, key, "rbac-test")

	// An asymmetric key publishes its JWKS in a ConfigMap, which rotation
	// rewrites.
	jwks := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jwks", Namespace: reportsNS},
		Spec: authv1alpha1.SigningKeySpec{Algorithm: jack.AlgorithmES256}}
	s.create(t, jwks)
	s.waitKey(t, jwks, "Ready", func(*authv1alpha1.SigningKey) error { return nil })
	cm := &corev1.ConfigMap{}
	s.exists(t, cm, reportsNS, jwks.JWKSConfigMapName())
	published := cm.Data[jack.ConfigMapKeyJWKS]
	s.rotate(t, jwks, "rbac-test")
	poll.Until(t, timeout, "the JWKS ConfigMap to publish the new key", func() error {
		if err := s.c.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
			return err
		}
		if cm.Data[jack.ConfigMapKeyJWKS] == published {
			return errors.New("unchanged")
		}
		return nil
	})
}

// rotate asks for a rotation by annotation and waits for the new key.
func (s *scenario) rotate(t *testing.T, key *authv1alpha1.SigningKey, request string) {
	t.Helper()
	s.waitKey(t, key, "Ready", func(*authv1alpha1.SigningKey) error { return nil })
	keys := len(key.Status.Keys)
	patch := client.MergeFrom(key.DeepCopy())
	metav1.SetMetaDataAnnotation(&key.ObjectMeta, jack.AnnotationRotate, request)
	if err := s.c.Patch(context.Background(), key, patch); err != nil {
		t.Fatal(err)
	}
	s.waitKey(t, key, "rotated by annotation", func(k *authv1alpha1.SigningKey) error {
		if k.Status.LastRotateRequest != request || len(k.Status.Keys) <= keys {
			return fmt.Errorf("lastRotateRequest %q, %d keys (had %d)", k.Status.LastRotateRequest, len(k.Status.Keys), keys)
		}
		return nil
	})
}

// waitKey waits for a SigningKey to be Ready for its generation and for
// check to pass, leaving the key as last read in key.
func (s *scenario) waitKey(t *testing.T, key *authv1alpha1.SigningKey, what string, check func(*authv1alpha1.SigningKey) error) {
	t.Helper()
	poll.Until(t, timeout, fmt.Sprintf("SigningKey %s/%s %s", key.Namespace, key.Name, what), func() error {
		if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(key), key); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(key.Status.Conditions, authv1alpha1.ConditionReady) || key.Status.ObservedGeneration != key.Generation {
			return fmt.Errorf("status %+v", key.Status.Conditions)
		}
		return check(key)
	})
}

func (s *scenario) jackUsers(t *testing.T) {
	ctx := context.Background()
	pw := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ana-password", Namespace: shopNS},
		Data: map[string][]byte{"password": []byte("correct horse battery staple")}}
	s.create(t, pw)
	ana := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "ana", Namespace: shopNS}, Spec: authv1alpha1.JackUserSpec{
		Email: "ana@example.com", Name: "Ana", Role: jack.RoleAdmin, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: pw.Name},
	}}
	// The validating webhook is called through the caBundle the operator
	// published: retry while its server picks up the certificate.
	poll.Until(t, timeout, "JackUser ana admitted by the webhook", func() error {
		return client.IgnoreAlreadyExists(s.c.Create(ctx, ana.DeepCopy()))
	})
	s.waitUser(t, ana, "Ready", func(u *authv1alpha1.JackUser) error {
		if c := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("conditions %+v", u.Status.Conditions)
		}
		if u.Status.ID == "" || u.Status.PasswordVersion == "" {
			return fmt.Errorf("status %+v", u.Status)
		}
		return nil
	})
	s.exists(t, &corev1.Secret{}, shopNS, jack.UserDirectorySecretName)

	version := ana.Status.PasswordVersion
	pw.Data["password"] = []byte("a new and longer passphrase")
	if err := s.c.Update(ctx, pw); err != nil {
		t.Fatal(err)
	}
	s.waitUser(t, ana, "with the new password, earlier sessions ended", func(u *authv1alpha1.JackUser) error {
		if u.Status.PasswordVersion == version || u.Status.SessionsValidAfter == nil {
			return fmt.Errorf("passwordVersion %q (was %q), sessionsValidAfter %v", u.Status.PasswordVersion, version, u.Status.SessionsValidAfter)
		}
		return nil
	})

	patch := client.MergeFrom(ana.DeepCopy())
	ana.Spec.Disabled = true
	if err := s.c.Patch(ctx, ana, patch); err != nil {
		t.Fatal(err)
	}
	s.waitUser(t, ana, "disabled", func(u *authv1alpha1.JackUser) error {
		c := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != authv1alpha1.ReasonUserDisabled || u.Status.ObservedGeneration != u.Generation {
			return fmt.Errorf("conditions %+v", u.Status.Conditions)
		}
		return nil
	})

	twin := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "ana-again", Namespace: shopNS}, Spec: authv1alpha1.JackUserSpec{
		Email: "ANA@example.com", Name: "Ana Again", Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: pw.Name},
	}}
	err := s.c.Create(ctx, twin)
	if err == nil || !strings.Contains(err.Error(), "already has the email ana@example.com") {
		t.Errorf("a second JackUser with ana's email: err = %v, want the webhook's refusal", err)
	}
}

func (s *scenario) waitUser(t *testing.T, u *authv1alpha1.JackUser, what string, check func(*authv1alpha1.JackUser) error) {
	t.Helper()
	poll.Until(t, timeout, fmt.Sprintf("JackUser %s/%s %s", u.Namespace, u.Name, what), func() error {
		if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		return check(u)
	})
}

// podInjection: an opted-in pod gets the sidecar, and its service account
// the sidecars' Role.
func (s *scenario) podInjection(t *testing.T) {
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: shopNS, Labels: map[string]string{jack.LabelInject: jack.InjectRequested}},
		Spec: corev1.PodSpec{ServiceAccountName: "jack-app", Containers: []corev1.Container{{
			Name: "jack", Image: "jack:1.0", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}},
		}}},
	}
	poll.Until(t, timeout, "the opted-in pod admitted", func() error {
		attempt := pod.DeepCopy()
		err := s.c.Create(ctx, attempt)
		if apierrors.IsAlreadyExists(err) { // an earlier attempt timed out, yet got through
			err = s.c.Get(ctx, client.ObjectKeyFromObject(pod), attempt)
		}
		if err == nil {
			*pod = *attempt
		}
		return err
	})
	injected := slices.ContainsFunc(append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...),
		func(c corev1.Container) bool { return c.Name == jack.SidecarContainerName })
	if !injected || pod.Annotations[jack.AnnotationInjectedVersion] == "" {
		t.Fatalf("the opted-in pod was not injected: annotations %v, init containers %d", pod.Annotations, len(pod.Spec.InitContainers))
	}
	want := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "jack-app", Namespace: shopNS}}
	poll.Until(t, timeout, "the sidecars' RoleBinding to bind the pod's service account", func() error {
		rb := &rbacv1.RoleBinding{}
		if err := s.c.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: jack.SidecarRoleName}, rb); err != nil {
			return err
		}
		if !equality.Semantic.DeepEqual(rb.Subjects, want) {
			return fmt.Errorf("subjects %v", rb.Subjects)
		}
		return nil
	})
	role := &rbacv1.Role{}
	s.exists(t, role, shopNS, jack.SidecarRoleName)
	if !equality.Semantic.DeepEqual(role.Rules, controllers.SidecarRules()) {
		t.Errorf("the sidecars' Role grants %v, want %v", role.Rules, controllers.SidecarRules())
	}
}

// sidecarAccessFollowsTheSigningKeys: a second SigningKey becomes an owner
// of the sidecars' Role (an update of its owner references), and a
// namespace's last SigningKey going takes the Role and RoleBinding with it.
func (s *scenario) sidecarAccessFollowsTheSigningKeys(t *testing.T) {
	ctx := context.Background()
	s.create(t, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "partner", Namespace: shopNS}})
	poll.Until(t, timeout, "the sidecars' Role owned by both SigningKeys", func() error {
		role := &rbacv1.Role{}
		if err := s.c.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: jack.SidecarRoleName}, role); err != nil {
			return err
		}
		if len(role.OwnerReferences) != 2 {
			return fmt.Errorf("owners %v", role.OwnerReferences)
		}
		return nil
	})

	s.exists(t, &rbacv1.RoleBinding{}, reportsNS, jack.SidecarRoleName)
	if err := s.c.Delete(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jwks", Namespace: reportsNS}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		poll.Until(t, timeout, fmt.Sprintf("the sidecars' %T removed with the last SigningKey", o), func() error {
			err := s.c.Get(ctx, client.ObjectKey{Namespace: reportsNS, Name: jack.SidecarRoleName}, o)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err == nil {
				return errors.New("still there")
			}
			return err
		})
	}
}

// tokenRevocation: a logout whose token has expired is forgotten.
func (s *scenario) tokenRevocation(t *testing.T) {
	ctx := context.Background()
	rev := &authv1alpha1.TokenRevocation{
		ObjectMeta: metav1.ObjectMeta{Name: jack.RevocationName("rbac-test-token"), Namespace: shopNS},
		Spec: authv1alpha1.TokenRevocationSpec{SigningKey: "jack", TokenID: "rbac-test-token", UserID: "ana",
			ExpiresAt: metav1.NewTime(time.Now().Add(-time.Hour))},
	}
	s.create(t, rev)
	poll.Until(t, timeout, "the expired TokenRevocation deleted", func() error {
		err := s.c.Get(ctx, client.ObjectKeyFromObject(rev), &authv1alpha1.TokenRevocation{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			return errors.New("still there")
		}
		return err
	})
}

// events: each recorder's events reached the API server (the broadcaster
// writes them asynchronously, and drops what it is refused), in the
// namespace they concern, as did leader election's core/v1 Event in the
// release namespace. The injection's event about a Namespace is filed in
// that namespace, not in default.
func (s *scenario) events(t *testing.T) {
	ctx := context.Background()
	for _, want := range []struct{ kind, name, namespace string }{
		{"SigningKey", "jack", shopNS},                            // Rotated, KeyPublished...
		{"JackUser", "ana", shopNS},                               // SessionsEnded
		{"Secret", s.op.options.Certs.SecretName, s.in.namespace}, // the webhook certificates
		{"Namespace", shopNS, shopNS},                             // the pod injected
	} {
		poll.Until(t, timeout, fmt.Sprintf("an event about %s %s in namespace %s", want.kind, want.name, want.namespace), func() error {
			var list eventsv1.EventList
			if err := s.c.List(ctx, &list); err != nil {
				return err
			}
			var elsewhere []string
			for _, e := range list.Items {
				if e.Regarding.Kind == want.kind && e.Regarding.Name == want.name {
					if e.Namespace == want.namespace {
						return nil
					}
					elsewhere = append(elsewhere, e.Namespace)
				}
			}
			return fmt.Errorf("none; some in namespaces %v", elsewhere)
		})
	}
	poll.Until(t, timeout, "leader election's event", func() error {
		var list corev1.EventList
		if err := s.c.List(ctx, &list, client.InNamespace(s.in.namespace)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "LeaderElection" {
				return nil
			}
		}
		return errors.New("none")
	})
}

func (s *scenario) create(t *testing.T, o client.Object) {
	t.Helper()
	if err := s.c.Create(context.Background(), o); err != nil {
		t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
	}
}

// namespace creates a namespace with labels, or adds them to it when the
// chart's install created it (for the Roles of namespace-scoped mode).
func (s *scenario) namespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	err := s.c.Create(context.Background(), ns)
	if apierrors.IsAlreadyExists(err) {
		err = s.c.Patch(context.Background(), ns, client.Merge)
	}
	if err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
}

// exists waits for an object the operator makes, reading it into o.
func (s *scenario) exists(t *testing.T, o client.Object, namespace, name string) {
	t.Helper()
	poll.Until(t, timeout, fmt.Sprintf("%T %s/%s", o, namespace, name), func() error {
		return s.c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, o)
	})
}
