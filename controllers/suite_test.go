package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// The suite runs a real kube-apiserver and etcd. A manager runs the
// controllers as in production, watching only the namespace liveNS; tests
// that need a fake clock or injected failures call Reconcile directly on
// objects in other namespaces, so the two never race.

const liveNS = "live"

// testHashParams make argon2id cheap, so tests of what the controller does
// with hashes don't spend their time making them. The benchmark uses the
// real defaults.
var testHashParams = password.Params{Memory: 64, Iterations: 1, Threads: 1}

var (
	env    *testenv.Env
	k8s    client.Client // uncached: every read sees the API server's current state
	scheme = testenv.Scheme()
	nsSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, scheme, setupSuite, testenv.WithWebhooks()))
}

// setupSuite runs the controllers and the webhooks in a manager, as the
// operator does, and returns once it is elected and its caches have synced.
func setupSuite(e *testenv.Env) (teardown func(), err error) {
	env, k8s = e, e.Client
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	teardown = func() { cancel(); wg.Wait() }

	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: liveNS}}); err != nil {
		return teardown, fmt.Errorf("creating the live namespace: %w", err)
	}
	// The API server builds a CRD's storage on its first write, which takes
	// seconds; a cluster has long done that when a user applies a resource.
	for _, o := range []client.Object{
		&authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "warm-up", Namespace: "default"}},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			return teardown, fmt.Errorf("warming up the API server: %w", err)
		}
	}
	// Everything the operator logs, at every verbosity, is also kept in
	// operatorLogs, for tests that check what it never logs.
	ctrl.SetLogger(teeLogs(zap.New(zap.WriteTo(os.Stderr)), &operatorLogs))
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{liveNS: {}}},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: env.Webhook.Host, Port: env.Webhook.Port, CertDir: env.Webhook.CertDir,
		}),
	})
	if err != nil {
		return teardown, fmt.Errorf("creating the manager: %w", err)
	}
	if err := (&SigningKeyReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("signingkey-controller")}).SetupWithManager(mgr); err != nil {
		return teardown, fmt.Errorf("setting up the SigningKey controller: %w", err)
	}
	if err := (&JackUserReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("jackuser-controller"), HashParams: testHashParams,
	}).SetupWithManager(mgr); err != nil {
		return teardown, fmt.Errorf("setting up the JackUser controller: %w", err)
	}
	if err := (&JackAPIKeyReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("jackapikey-controller")}).SetupWithManager(mgr); err != nil {
		return teardown, fmt.Errorf("setting up the JackAPIKey controller: %w", err)
	}
	// The manager's cache holds only liveNS; the webhook must see every
	// namespace, as it does in a cluster, so it reads a cache of its own.
	allNamespaces, err := cache.New(env.Config, cache.Options{Scheme: scheme})
	if err != nil {
		return teardown, fmt.Errorf("creating the webhook's cache: %w", err)
	}
	if err := IndexJackUsers(allNamespaces); err != nil {
		return teardown, fmt.Errorf("indexing the webhook's cache: %w", err)
	}
	if err := mgr.Add(allNamespaces); err != nil {
		return teardown, fmt.Errorf("adding the webhook's cache: %w", err)
	}
	if err := SetupJackUserWebhookWithManager(mgr, allNamespaces); err != nil {
		return teardown, fmt.Errorf("setting up the JackUser webhook: %w", err)
	}
	injectCfg := inject.DefaultConfig()
	injectCfg.Image, injectCfg.Version, injectCfg.OperatorNamespace, injectCfg.NativeSidecars = "jack-auth:test", "test", "jack-system", true
	mgr.GetWebhookServer().Register(inject.WebhookPath, &webhook.Admission{Handler: &inject.Webhook{
		Reader: allNamespaces, Decoder: admission.NewDecoder(scheme), Recorder: mgr.GetEventRecorder("pod-injector"), Config: injectCfg,
	}})
	wg.Go(func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	})
	// Tests that time the controller start once it is ready, as in a running operator.
	if !mgr.GetCache().WaitForCacheSync(ctx) || !allNamespaces.WaitForCacheSync(ctx) {
		return teardown, errors.New("the manager's cache did not sync")
	}
	<-mgr.Elected()
	warmUser := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "warm-up", Namespace: "default"}, Spec: authv1alpha1.JackUserSpec{
		Email: "warm@example.com", Name: "Warm Up", Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "none"}}}
	if err := createWhenWebhookServes(ctx, warmUser); err != nil {
		return teardown, fmt.Errorf("warming up the API server: %w", err)
	}
	return teardown, nil
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ctrl-test-%d", nsSeq.Add(1))}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// createWhenWebhookServes creates an object, retrying while the webhook
// server is still starting.
func createWhenWebhookServes(ctx context.Context, o client.Object) error {
	var err error
	for range 100 {
		if err = k8s.Create(ctx, o); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
