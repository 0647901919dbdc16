package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

const cacheWait = 20 * time.Second

// operatorCache starts NewCache, as the operator's manager makes it, on the
// namespace ns, with the informers the reconcilers use, and returns a client
// that reads through it as the manager's does.
func operatorCache(t *testing.T, ns string) client.Client {
	t.Helper()
	c, err := NewCache(env.Config, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	secretMeta := &metav1.PartialObjectMetadata{}
	secretMeta.SetGroupVersionKind(secretGVK)
	for _, o := range []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}, secretMeta, &authv1alpha1.JackUser{}, &authv1alpha1.SigningKey{}} {
		if _, err := c.GetInformer(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not sync")
	}
	cached, err := client.New(env.Config, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		t.Fatal(err)
	}
	return cached
}

// The operator's cache holds whole only the Secrets and ConfigMaps it made
// (labelled managed-by=jack-operator); of every other Secret it holds the
// name and version, and nothing of other ConfigMaps (issue 15).
func TestTheCacheHoldsOnlyTheOperatorsSecretsAndConfigMaps(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	ours := map[string]string{jack.LabelManagedBy: jack.ManagedByValue}
	big := strings.Repeat("x", 10<<10)
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sh.helm.release.v1.shop.v1", Namespace: ns,
			Labels: map[string]string{"owner": "helm"}, Annotations: map[string]string{"note": big}},
			Data: map[string][]byte{"release": []byte(big)}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shop-settings", Namespace: ns}, Data: map[string]string{"settings": big}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jack-jwt", Namespace: ns, Labels: ours}, Data: map[string][]byte{"k": []byte("v")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "jack-jwks", Namespace: ns, Labels: ours}, Data: map[string]string{"k": "v"}},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	c := operatorCache(t, ns)

	names := func(list client.ObjectList) []string {
		t.Helper()
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var out []string
		switch l := list.(type) {
		case *corev1.SecretList:
			for _, s := range l.Items {
				out = append(out, s.Name)
			}
		case *corev1.ConfigMapList:
			for _, s := range l.Items {
				out = append(out, s.Name)
			}
		case *metav1.PartialObjectMetadataList:
			for _, m := range l.Items {
				if len(m.Labels)+len(m.Annotations)+len(m.ManagedFields) > 0 {
					t.Errorf("the metadata cache holds more than a Secret's name and version: %+v", m.ObjectMeta)
				}
				out = append(out, m.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	poll.Until(t, cacheWait, "the cache to hold the operator's Secret", func() error {
		if got := names(&corev1.SecretList{}); !slices.Equal(got, []string{"jack-jwt"}) {
			return fmt.Errorf("Secrets cached whole: %v, want only jack-jwt", got)
		}
		return nil
	})
	if got := names(&corev1.ConfigMapList{}); !slices.Equal(got, []string{"jack-jwks"}) {
		t.Errorf("ConfigMaps cached: %v, want only jack-jwks", got)
	}
	metaList := &metav1.PartialObjectMetadataList{}
	metaList.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if got, want := names(metaList), []string{"jack-jwt", "sh.helm.release.v1.shop.v1"}; !slices.Equal(got, want) {
		t.Errorf("Secrets whose metadata is cached: %v, want %v", got, want)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "sh.helm.release.v1.shop.v1"}, &corev1.Secret{}); err == nil {
		t.Error("a Helm release Secret is readable whole from the cache")
	}
}

// countingReader counts the reads that bypass the cache.
type countingReader struct {
	client.Reader
	reads atomic.Int64
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.reads.Add(1)
	return c.Reader.Get(ctx, key, obj, opts...)
}

// With the operator's cache, a JackUser's password Secret is read from the
// API server only when its version changes (or the process has not read it
// yet): a reconcile of an unchanged namespace reads no Secret, and a
// password change is still hashed, and ends the user's sessions.
func TestPasswordSecretsAreReadDirectlyOnlyWhenTheyChange(t *testing.T) {
	h := newUserHarness(t)
	cached := operatorCache(t, h.ns)
	direct := &countingReader{Reader: k8s}
	h.r.Client, h.r.APIReader = cached, direct
	h.setPassword("ada-password", "correct horse battery staple")
	h.createUser("ada", "ada@example.com", jack.RoleAdmin, "ada-password")
	h.waitCached("the user and the password's metadata", func() error {
		if err := cached.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "ada"}, &authv1alpha1.JackUser{}); err != nil {
			return err
		}
		m, err := secretMetadata(context.Background(), cached, client.ObjectKey{Namespace: h.ns, Name: "ada-password"})
		if m == nil && err == nil {
			err = errors.New("not yet")
		}
		return err
	})

	h.reconcile()
	if n := direct.reads.Swap(0); n != 2 { // the password Secret, and the directory not yet made
		t.Errorf("the first reconcile read %d objects from the API server, want 2 (the password Secret, the missing directory)", n)
	}
	if !verifies(t, h.entry("ada@example.com"), "correct horse battery staple") {
		t.Fatal("the directory does not hold ada's password")
	}
	h.waitDirectoryCached(cached)
	h.reconcile()
	if n := direct.reads.Swap(0); n != 0 {
		t.Errorf("a reconcile with nothing changed read %d objects from the API server, want none", n)
	}

	h.setPassword("ada-password", "a new and longer passphrase")
	h.waitCached("the password change's metadata", func() error {
		u := h.entry("ada@example.com")
		m, err := secretMetadata(context.Background(), cached, client.ObjectKey{Namespace: h.ns, Name: "ada-password"})
		if err != nil {
			return err
		}
		if passwordVersion(&corev1.Secret{ObjectMeta: m.ObjectMeta}, "password") == u.PasswordVersion {
			return errors.New("the cache still has the old version")
		}
		return nil
	})
	h.clock.Step(time.Minute)
	h.reconcile()
	if n := direct.reads.Swap(0); n != 1 {
		t.Errorf("the reconcile after a password change read %d objects from the API server, want 1", n)
	}
	u := h.entry("ada@example.com")
	if !verifies(t, u, "a new and longer passphrase") || verifies(t, u, "correct horse battery staple") {
		t.Error("the directory does not hold only the new password")
	}
	if !u.SessionsValidAfter.Equal(h.clock.Now()) {
		t.Errorf("sessions valid after %s, want the change at %s", u.SessionsValidAfter, h.clock.Now())
	}
}

// A Secret named jack-user-directory that the operator did not make is not
// in its cache; it is still found, on the API server, and refused.
func TestAForeignDirectoryOutsideTheCacheIsStillRefused(t *testing.T) {
	h := newUserHarness(t)
	cached := operatorCache(t, h.ns)
	h.r.Client, h.r.APIReader = cached, k8s
	if err := k8s.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: jack.UserDirectorySecretName, Namespace: h.ns},
		Data: map[string][]byte{"someone": []byte("else's")}}); err != nil {
		t.Fatal(err)
	}
	h.setPassword("ada-password", "correct horse battery staple")
	h.createUser("ada", "ada@example.com", jack.RoleAdmin, "ada-password")
	h.waitCached("the user", func() error {
		return cached.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "ada"}, &authv1alpha1.JackUser{})
	})
	h.reconcile()
	if status, reason := readyOf(h.user("ada")); status != string(metav1.ConditionFalse) || reason != authv1alpha1.ReasonDirectoryConflict {
		t.Errorf("Ready %s %s, want False %s", status, reason, authv1alpha1.ReasonDirectoryConflict)
	}
}

// A key ring Secret and JWKS ConfigMap of a SigningKey that lost the
// operator's label (made by an older version, or unlabelled by hand) drop
// out of the cache; the next reconcile finds them on the API server and
// labels them again, rather than failing to create them or calling them
// someone else's.
func TestARingObjectWithoutItsLabelIsRelabelled(t *testing.T) {
	h := newHarness(t)
	cached := operatorCache(t, h.ns)
	h.r.APIReader = k8s
	key := h.create("jack", authv1alpha1.SigningKeySpec{Algorithm: jack.AlgorithmES256})
	h.reconcile(key.Name)
	key = h.get(key.Name)
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.SecretName(), Namespace: h.ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.BackupSecretName(), Namespace: h.ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: key.JWKSConfigMapName(), Namespace: h.ns}},
	}
	for _, o := range objs {
		o := getObject(t, h.ns, o.GetName(), o)
		updateObject(t, o, func(o client.Object) {
			l := o.GetLabels()
			delete(l, jack.LabelManagedBy)
			o.SetLabels(l)
		})
		h.waitOutOfCache(cached, o)
	}
	if _, err := h.reconcileWith(cached, key.Name); err != nil {
		t.Fatalf("reconcile with the objects out of the cache: %v", err)
	}
	for _, o := range objs {
		o := getObject(t, h.ns, o.GetName(), o)
		if o.GetLabels()[jack.LabelManagedBy] != jack.ManagedByValue {
			t.Errorf("%T %s was not labelled again: %v", o, o.GetName(), o.GetLabels())
		}
	}
	if e := h.events.take(); slices.ContainsFunc(e, func(s string) bool { return strings.Contains(s, authv1alpha1.ReasonSecretConflict) }) {
		t.Errorf("the SigningKey's own objects were called someone else's: %v", e)
	}
	for _, o := range objs {
		poll.Until(t, cacheWait, fmt.Sprintf("%s back in the cache", o.GetName()), func() error {
			return cached.Get(context.Background(), client.ObjectKeyFromObject(o), o)
		})
	}
}

func (h *userHarness) waitCached(what string, check func() error) {
	h.t.Helper()
	poll.Until(h.t, cacheWait, what+" in the cache", check)
}

func (h *userHarness) waitDirectoryCached(c client.Client) {
	h.t.Helper()
	_, want := h.directory()
	h.waitCached("the directory as written", func() error {
		s := &corev1.Secret{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: jack.UserDirectorySecretName}, s); err != nil {
			return err
		}
		if s.ResourceVersion != want.ResourceVersion {
			return fmt.Errorf("resourceVersion %s, want %s", s.ResourceVersion, want.ResourceVersion)
		}
		return nil
	})
}

func (h *harness) waitOutOfCache(c client.Client, o client.Object) {
	h.t.Helper()
	poll.Until(h.t, cacheWait, fmt.Sprintf("%s out of the cache", o.GetName()), func() error {
		err := c.Get(context.Background(), client.ObjectKeyFromObject(o), o.DeepCopyObject().(client.Object))
		if err == nil {
			return errors.New("still cached")
		}
		return client.IgnoreNotFound(err)
	})
}
