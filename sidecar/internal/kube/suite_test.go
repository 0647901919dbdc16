package kube_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/kubelettest"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

// The suite runs a real kube-apiserver and etcd. The package under test
// talks to it as a service account, with a token from the TokenRequest API
// and RBAC granted per test, so every test proves bearer authentication, CA
// verification and authorization as a pod would meet them. The test's own
// changes go through k8s, a cluster administrator's client.

var (
	env    *testenv.Env
	k8s    client.Client
	caPEM  []byte
	nsSeq  atomic.Int64
	scheme = testenv.Scheme()
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, scheme, setupSuite))
}

// setupSuite waits until the API server serves JackUsers.
func setupSuite(e *testenv.Env) (teardown func(), err error) {
	env, k8s, caPEM = e, e.Client, e.Config.CAData
	// Right after start the API server answers 429 "storage is
	// (re)initializing" for a CRD's objects; a cluster is long past that
	// when a sidecar starts.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err = k8s.List(context.Background(), &authv1alpha1.JackUserList{}, client.InNamespace("default"))
		if err == nil {
			return nil, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the JackUser storage is not ready: %w", err)
		}
	}
}

// identity is a service account in a namespace of its own, bound to a Role
// with the given rules, with its token, CA and namespace projected into a
// directory the way the kubelet projects a service account volume.
type identity struct {
	ns, sa string
	vol    *kubelettest.Volume
}

func newIdentity(t *testing.T, rules ...rbacv1.PolicyRule) *identity {
	t.Helper()
	id := &identity{ns: fmt.Sprintf("kube-%d", nsSeq.Add(1)), sa: "jack-auth"}
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: id.ns}})
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: id.sa, Namespace: id.ns}})
	if len(rules) > 0 {
		id.grant(t, "jack-auth", rules...)
	}
	id.vol = kubelettest.NewVolume(t, filepath.Join(t.TempDir(), "serviceaccount"), id.files(id.token(t, id.sa, nil)))
	return id
}

// grant binds a Role named name with rules to the service account.
func (id *identity) grant(t *testing.T, name string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: id.ns}, Rules: rules})
	create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: id.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: id.sa, Namespace: id.ns}},
	})
}

// token asks the TokenRequest API for a token of a service account of the
// namespace, as the kubelet does for a projected volume. A token bound to a
// Secret is revoked by deleting the Secret.
func (id *identity) token(t *testing.T, serviceAccount string, boundTo *corev1.Secret) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: serviceAccount, Namespace: id.ns}}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}
	if boundTo != nil {
		req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{
			Kind: "Secret", APIVersion: "v1", Name: boundTo.Name, UID: boundTo.UID,
		}
	}
	if err := k8s.SubResource("token").Create(context.Background(), sa, req); err != nil {
		t.Fatalf("requesting a token for %s/%s: %v", id.ns, serviceAccount, err)
	}
	if req.Status.Token == "" {
		t.Fatal("the TokenRequest API returned no token")
	}
	return req.Status.Token
}

func (id *identity) files(token string) map[string][]byte {
	return map[string][]byte{"token": []byte(token), "ca.crt": caPEM, "namespace": []byte(id.ns)}
}

// rotate replaces the token file's content as the kubelet does.
func (id *identity) rotate(token string) { id.vol.Update(id.files(token)) }

func (id *identity) config() kube.Config {
	return kube.Config{
		Host:      env.Config.Host,
		TokenFile: id.vol.Path("token"),
		CAFile:    id.vol.Path("ca.crt"),
		Namespace: id.ns,
	}
}

func (id *identity) client(t *testing.T) *kube.Client {
	t.Helper()
	return newClient(t, id.config())
}

func newClient(t *testing.T, cfg kube.Config) *kube.Client {
	t.Helper()
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatalf("kube.New: %v", err)
	}
	return c
}

// allow is an RBAC rule for verbs on a resource of an API group.
func allow(group, resource string, verbs ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// settle bounds every wait for the reflector or the API server.
const settle = 20 * time.Second

func ptr[T any](v T) *T { return &v }
