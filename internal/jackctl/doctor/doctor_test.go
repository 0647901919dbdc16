package doctor

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/jackctl"
	"github.com/jack-io/jack-operator/internal/operator"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

var (
	k8s client.Client
	cfg *rest.Config
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, jackctl.Scheme(), func(e *testenv.Env) (func(), error) {
		k8s, cfg = e.Client, e.Config
		return nil, nil
	}))
}

const opNS = "jack-system"

// A CA and a serving certificate, PEM.
type pki struct {
	caPEM []byte
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &pki{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca: ca, caKey: key}
}

// serving signs a serving certificate valid from notBefore to notAfter.
func (p *pki) serving(t *testing.T, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "jack-operator-webhook.jack-system.svc"},
		DNSNames: []string{"jack-operator-webhook.jack-system.svc"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// installOperator creates, by hand, what the chart would and what the operator
// would have written: its Deployment (ready), its Lease, the webhook
// certificate Secret, the two webhook configurations with the CA as their
// caBundle, and the webhook Service's endpoints.
func installOperator(t *testing.T, ctx context.Context, ca *pki) {
	t.Helper()
	labels := map[string]string{"app.kubernetes.io/name": "jack-operator", "app.kubernetes.io/instance": "jack-operator", "app.kubernetes.io/component": "operator"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-operator", Namespace: opNS, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "operator", Image: "ghcr.io/jack-io/jack-operator:0.1.0",
				Args: []string{"--leader-elect=true", "--webhook-cert-mode=self", "--webhook-secret-name=jack-operator-webhook-certs",
					"--webhook-service-name=jack-operator-webhook", "--validating-webhook-configuration=jack-operator-validating",
					"--mutating-webhook-configuration=jack-operator-pod-injection", "--sidecar-image=ghcr.io/jack-io/jack-auth:0.1.0"},
			}}}}},
	}
	tls := ca.serving(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	ignore := admissionregistrationv1.Ignore
	none := admissionregistrationv1.SideEffectClassNone
	// Rules that match nothing the tests create: the API server must never
	// call these webhooks, which nothing serves.
	rules := []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"replicationcontrollers"}}}}
	svc := &admissionregistrationv1.ServiceReference{Namespace: opNS, Name: "jack-operator-webhook", Path: ptr.To("/x")}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opNS}},
		d,
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: operator.LeaderElectionID, Namespace: opNS},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("jack-operator-7d9f-abcde_1234"), LeaseDurationSeconds: ptr.To[int32](15), RenewTime: &metav1.MicroTime{Time: time.Now()}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jack-operator-webhook-certs", Namespace: opNS},
			Data: map[string][]byte{"ca.crt": ca.caPEM, "tls.crt": tls, "tls.key": []byte("not read")}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "jack-operator-pod-injection"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "inject.auth.jack.io", FailurePolicy: &ignore, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
				Rules: rules, ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: svc, CABundle: ca.caPEM}}}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "jack-operator-validating"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "vjackuser.auth.jack.io", FailurePolicy: &ignore, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
				Rules: rules, ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: svc, CABundle: ca.caPEM}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "jack-operator-webhook-x1", Namespace: opNS, Labels: map[string]string{discoveryv1.LabelServiceName: "jack-operator-webhook"}},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	d.Status = appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, UpdatedReplicas: 2}
	if err := k8s.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// healthyNamespace has a SigningKey as the operator leaves it at rest and
// a pod injected by the operator's version.
func healthyNamespace(t *testing.T, ctx context.Context, ns string) *authv1alpha1.SigningKey {
	t.Helper()
	k := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: ns}}
	for _, o := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, k,
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "jack-0", Namespace: ns, Annotations: map[string]string{jack.AnnotationInjectedVersion: "0.1.0"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1"}}}},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	setKeyStatus(t, ctx, k, metav1.ConditionTrue, authv1alpha1.ReasonPropagated, "every ready sidecar (1) holds key k1 and signs with it")
	u := newUser(t, ctx, ns, "alice")
	setUserStatus(t, ctx, u, metav1.ConditionTrue, authv1alpha1.ReasonUserReady, metav1.ConditionTrue, time.Now())
	return k
}

func newUser(t *testing.T, ctx context.Context, ns, name string) *authv1alpha1.JackUser {
	t.Helper()
	u := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: authv1alpha1.JackUserSpec{
		Name: name, Email: name + "@example.com", Role: jack.RoleStaff,
		PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: name + "-password", Key: "password"},
	}}
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// setUserStatus gives u a Ready condition of status and reason, and a
// Propagated one of status propagated that last changed at since.
func setUserStatus(t *testing.T, ctx context.Context, u *authv1alpha1.JackUser, ready metav1.ConditionStatus, reason string, propagated metav1.ConditionStatus, since time.Time) {
	t.Helper()
	u.Status.ObservedGeneration = u.Generation
	u.Status.Conditions = []metav1.Condition{
		{Type: authv1alpha1.ConditionReady, Status: ready, Reason: reason, Message: "as the test says", LastTransitionTime: metav1.NewTime(since)},
		{Type: authv1alpha1.ConditionPropagated, Status: propagated, Reason: authv1alpha1.ReasonAwaitingSidecars,
			Message:            "1 of 1 sidecars have not confirmed within 2s that they log " + u.Spec.Email + " in with the current password: jack-0",
			LastTransitionTime: metav1.NewTime(since)},
	}
	if propagated == metav1.ConditionTrue {
		u.Status.Conditions[1].Reason, u.Status.Conditions[1].Message = authv1alpha1.ReasonConfirmed, "every ready sidecar (1) confirmed"
	}
	if err := k8s.Status().Update(ctx, u); err != nil {
		t.Fatal(err)
	}
}

func setKeyStatus(t *testing.T, ctx context.Context, k *authv1alpha1.SigningKey, propagated metav1.ConditionStatus, reason, message string) {
	t.Helper()
	k.Status.ActiveKeyID, k.Status.Propagation, k.Status.ObservedGeneration = "k1", "1/1", k.Generation
	meta.SetStatusCondition(&k.Status.Conditions, metav1.Condition{Type: authv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: authv1alpha1.ReasonKeyActive, Message: "key k1 signs"})
	meta.SetStatusCondition(&k.Status.Conditions, metav1.Condition{Type: authv1alpha1.ConditionPropagated, Status: propagated, Reason: reason, Message: message})
	if err := k8s.Status().Update(ctx, k); err != nil {
		t.Fatal(err)
	}
}

func doctor(t *testing.T, ns string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	n, err := Run(context.Background(), k8s, cfg, ns, &out)
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
	return n, out.String()
}

func TestDoctor(t *testing.T) {
	ctx := context.Background()

	t.Run("without an operator", func(t *testing.T) {
		n, out := doctor(t, "default")
		if n != 1 || !strings.Contains(out, "PROBLEM  operator: not found\n         fix: install it") {
			t.Errorf("%d problems:\n%s", n, out)
		}
	})

	ca := newCA(t, "jack-operator-ca")
	installOperator(t, ctx, ca)
	k := healthyNamespace(t, ctx, "shop")

	t.Run("a healthy installation", func(t *testing.T) {
		n, out := doctor(t, "shop")
		if n != 0 {
			t.Fatalf("%d problems in a healthy installation:\n%s", n, out)
		}
		printed(t, out,
			"OK       operator: deployment jack-system/jack-operator, version 0.1.0, 2/2 replicas ready",
			"OK       leader: jack-operator-7d9f-abcde_1234, renewed ",
			"OK       webhook certificate: Secret jack-system/jack-operator-webhook-certs, for [jack-operator-webhook.jack-system.svc], expires in 8",
			"OK       webhooks: MutatingWebhookConfiguration jack-operator-pod-injection, webhook inject.auth.jack.io: caBundle is the Secret's ca.crt",
			"OK       webhooks: ValidatingWebhookConfiguration jack-operator-validating, webhook vjackuser.auth.jack.io: caBundle is the Secret's ca.crt",
			"OK       webhooks: Service jack-system/jack-operator-webhook has 1 ready endpoint(s)",
			"OK       CRDs: jackusers, signingkeys, tokenrevocations, jackapikeys served at auth.jack.io/v1alpha1",
			"OK       SigningKey shop/jack: Ready, Propagated (1/1 sidecars), active key k1",
			"OK       sidecars: 1 pod(s) in shop run the sidecar of operator version 0.1.0",
			"OK       JackUsers: 1 in namespace shop: 1 confirmed by every ready sidecar, 0 disabled, 0 cannot log in",
		)
	})

	// Each break is undone before the next, so each run has exactly one problem.
	for name, tc := range map[string]struct {
		brk, fix func(t *testing.T)
		want     []string
	}{
		"a caBundle that does not verify the certificate": {
			brk:  func(t *testing.T) { setCABundle(t, ctx, newCA(t, "someone-else").caPEM) },
			fix:  func(t *testing.T) { setCABundle(t, ctx, ca.caPEM) },
			want: []string{"PROBLEM  webhooks: MutatingWebhookConfiguration jack-operator-pod-injection, webhook inject.auth.jack.io: caBundle does not verify the serving certificate", "fix: the operator rewrites it"},
		},
		"an expired certificate": {
			brk: func(t *testing.T) {
				setServing(t, ctx, ca.serving(t, time.Now().Add(-91*24*time.Hour), time.Now().Add(-24*time.Hour)))
			},
			fix: func(t *testing.T) {
				setServing(t, ctx, ca.serving(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour)))
			},
			want: []string{"PROBLEM  webhook certificate: Secret jack-system/jack-operator-webhook-certs, for [jack-operator-webhook.jack-system.svc], expired 24h ago", "the API server refuses to call the webhooks"},
		},
		"a SigningKey whose new key waits for a sidecar": {
			brk: func(t *testing.T) {
				setKeyStatus(t, ctx, k, metav1.ConditionFalse, authv1alpha1.ReasonSidecarsLagging, "key k2 waits for sidecars that have not loaded it: jack-0 (0/1 hold it)")
			},
			fix: func(t *testing.T) {
				setKeyStatus(t, ctx, k, metav1.ConditionTrue, authv1alpha1.ReasonPropagated, "every ready sidecar (1) holds key k1")
			},
			want: []string{"PROBLEM  SigningKey shop/jack: not Propagated (False SidecarsLagging): key k2 waits for sidecars that have not loaded it: jack-0",
				"fix: look at the sidecars it names"},
		},
		"a SigningKey whose status lags its spec": {
			brk: func(t *testing.T) {
				k.Spec.Issuer = "https://jack.example.com"
				if err := k8s.Update(ctx, k); err != nil {
					t.Fatal(err)
				}
			},
			fix: func(t *testing.T) {
				setKeyStatus(t, ctx, k, metav1.ConditionTrue, authv1alpha1.ReasonPropagated, "every ready sidecar (1) holds key k1")
			},
			want: []string{"PROBLEM  SigningKey shop/jack: its status describes generation 1 of 2: the operator has not acted on its latest change"},
		},
		"a leader that stopped renewing": {
			brk:  func(t *testing.T) { setRenew(t, ctx, time.Now().Add(-time.Minute)) },
			fix:  func(t *testing.T) { setRenew(t, ctx, time.Now()) },
			want: []string{"PROBLEM  leader: jack-operator-7d9f-abcde_1234 last renewed Lease jack-operator.auth.jack.io 60s ago, past its 15s"},
		},
		"a sidecar of another operator version": {
			brk: func(t *testing.T) {
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "jack-old", Namespace: "shop", Annotations: map[string]string{jack.AnnotationInjectedVersion: "0.0.9"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1"}}}}
				if err := k8s.Create(ctx, p); err != nil {
					t.Fatal(err)
				}
			},
			fix: func(t *testing.T) {
				if err := k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "jack-old", Namespace: "shop"}}, client.GracePeriodSeconds(0)); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"PROBLEM  sidecars: 1 pod(s) in shop run the sidecar of operator version 0.0.9, not 0.1.0: jack-old", "rollout restart"},
		},
		"a user whose login a sidecar has not confirmed for six minutes": {
			brk: func(t *testing.T) {
				setUserStatus(t, ctx, user(t, ctx, "shop", "alice"), metav1.ConditionTrue, authv1alpha1.ReasonUserReady, metav1.ConditionFalse, time.Now().Add(-6*time.Minute))
			},
			fix: func(t *testing.T) {
				setUserStatus(t, ctx, user(t, ctx, "shop", "alice"), metav1.ConditionTrue, authv1alpha1.ReasonUserReady, metav1.ConditionTrue, time.Now())
			},
			want: []string{"PROBLEM  JackUser shop/alice: not Propagated for 6m", "(False AwaitingSidecars): 1 of 1 sidecars have not confirmed",
				"fix: look at the sidecars it names: their kubelet must bring the user directory Secret"},
		},
		"a user directory that is full": {
			brk: func(t *testing.T) {
				setUserStatus(t, ctx, user(t, ctx, "shop", "alice"), metav1.ConditionFalse, authv1alpha1.ReasonDirectoryFull, metav1.ConditionTrue, time.Now())
			},
			fix: func(t *testing.T) {
				setUserStatus(t, ctx, user(t, ctx, "shop", "alice"), metav1.ConditionTrue, authv1alpha1.ReasonUserReady, metav1.ConditionTrue, time.Now())
			},
			want: []string{"PROBLEM  JackUser shop/alice: cannot log in (False DirectoryFull): as the test says"},
		},
		"no ready webhook endpoint": {
			brk:  func(t *testing.T) { setEndpointReady(t, ctx, false) },
			fix:  func(t *testing.T) { setEndpointReady(t, ctx, true) },
			want: []string{"PROBLEM  webhooks: Service jack-system/jack-operator-webhook has no ready endpoint"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tc.brk(t)
			n, out := doctor(t, "shop")
			if n != 1 {
				t.Errorf("%d problems, want 1:\n%s", n, out)
			}
			printed(t, out, tc.want...)
			tc.fix(t)
			if n, out := doctor(t, "shop"); n != 0 {
				t.Fatalf("after undoing it, %d problems:\n%s", n, out)
			}
		})
	}
	t.Run("users a person must fix, or whose sidecars are still within the grace, are no problem of the installation", func(t *testing.T) {
		weak := newUser(t, ctx, "shop", "bob")
		setUserStatus(t, ctx, weak, metav1.ConditionFalse, authv1alpha1.ReasonPasswordTooWeak, metav1.ConditionFalse, time.Now().Add(-time.Hour))
		fresh := newUser(t, ctx, "shop", "carol")
		setUserStatus(t, ctx, fresh, metav1.ConditionTrue, authv1alpha1.ReasonUserReady, metav1.ConditionFalse, time.Now().Add(-time.Minute))
		off := newUser(t, ctx, "shop", "dan")
		setUserStatus(t, ctx, off, metav1.ConditionFalse, authv1alpha1.ReasonUserDisabled, metav1.ConditionTrue, time.Now())
		t.Cleanup(func() {
			for _, u := range []*authv1alpha1.JackUser{weak, fresh, off} {
				if err := k8s.Delete(ctx, u); err != nil {
					t.Error(err)
				}
			}
		})
		n, out := doctor(t, "shop")
		if n != 0 {
			t.Errorf("%d problems, want none:\n%s", n, out)
		}
		printed(t, out,
			"WARNING  JackUser shop/bob: cannot log in (False PasswordTooWeak): as the test says\n         fix: set a password: kubectl jack user passwd bob -n shop --generate --wait",
			"OK       JackUsers: 4 in namespace shop: 2 confirmed by every ready sidecar, 1 disabled, 1 cannot log in",
		)
		if strings.Contains(out, "carol") {
			t.Errorf("doctor named a user whose sidecars are still within %s:\n%s", UserPropagationGrace, out)
		}
	})
	// A CRD the API server does not serve is tested by the plugin's
	// TestOnABrokenInstallEveryVerbNamesTheFix (cmd/kubectl-jack), on an API
	// server of its own: removing one from this shared one would break the
	// other tests' reads.
}

// printed fails the test for each of wants that out lacks.
func printed(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("doctor printed\n%s\nwithout %q", out, want)
		}
	}
}

func user(t *testing.T, ctx context.Context, ns, name string) *authv1alpha1.JackUser {
	t.Helper()
	var u authv1alpha1.JackUser
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &u); err != nil {
		t.Fatal(err)
	}
	return &u
}

func setCABundle(t *testing.T, ctx context.Context, bundle []byte) {
	t.Helper()
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "jack-operator-pod-injection"}, m); err != nil {
		t.Fatal(err)
	}
	m.Webhooks[0].ClientConfig.CABundle = bundle
	if err := k8s.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
}

func setServing(t *testing.T, ctx context.Context, cert []byte) {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: "jack-operator-webhook-certs"}, s); err != nil {
		t.Fatal(err)
	}
	s.Data["tls.crt"] = cert
	if err := k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func setRenew(t *testing.T, ctx context.Context, at time.Time) {
	t.Helper()
	l := &coordinationv1.Lease{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: operator.LeaderElectionID}, l); err != nil {
		t.Fatal(err)
	}
	l.Spec.RenewTime = &metav1.MicroTime{Time: at}
	if err := k8s.Update(ctx, l); err != nil {
		t.Fatal(err)
	}
}

func setEndpointReady(t *testing.T, ctx context.Context, ready bool) {
	t.Helper()
	e := &discoveryv1.EndpointSlice{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: "jack-operator-webhook-x1"}, e); err != nil {
		t.Fatal(err)
	}
	e.Endpoints[0].Conditions.Ready = ptr.To(ready)
	if err := k8s.Update(ctx, e); err != nil {
		t.Fatal(err)
	}
}
