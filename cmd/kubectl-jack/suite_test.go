package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/operator"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// The suite runs a real kube-apiserver and etcd, and the operator itself,
// in-process, as main.go builds it, with its webhooks (the JackUser
// uniqueness check, the pod injector) served with envtest's certificate,
// which the API server trusts. Each test executes the plugin's cobra root
// in-process, with a kubeconfig for that API server, in a namespace of its
// own.

var (
	env        *testenv.Env
	k8s        client.Client // uncached: what the API server holds now
	kubeconfig string
	nsSeq      atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, scheme, setupSuite, testenv.WithWebhooks()))
}

func setupSuite(e *testenv.Env) (teardown func(), err error) {
	env, k8s = e, e.Client
	dir, err := os.MkdirTemp("", "kubectl-jack-test")
	if err != nil {
		return nil, err
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, e.KubeConfig, 0o600); err != nil {
		return func() { os.RemoveAll(dir) }, err
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	var o operator.Options
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--sidecar-image=jack-auth:test",
		"--webhook-cert-mode=files", "--webhook-cert-dir=" + e.Webhook.CertDir,
		"--webhook-host=" + e.Webhook.Host, fmt.Sprintf("--webhook-port=%d", e.Webhook.Port)}); err != nil {
		return func() { os.RemoveAll(dir) }, err
	}
	c, err := o.Complete()
	if err != nil {
		return func() { os.RemoveAll(dir) }, err
	}
	mgr, err := c.NewManager(e.Config, func(o *ctrl.Options) { o.Controller.SkipNameValidation = ptr.To(true) })
	if err != nil {
		return func() { os.RemoveAll(dir) }, fmt.Errorf("building the operator: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "the operator stopped:", err)
		}
	}()
	teardown = func() { cancel(); <-done; os.RemoveAll(dir) }
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return teardown, fmt.Errorf("the operator's cache did not sync")
	}
	return teardown, webhookServes(ctx)
}

// webhookServes waits until the API server can call the operator's
// JackUser webhook: a dry run of a JackUser is admitted.
func webhookServes(ctx context.Context) error {
	u := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "warm-up", Namespace: "default"}, Spec: authv1alpha1.JackUserSpec{
		Email: "warm-up@example.com", Name: "Warm Up", Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "none"}}}
	deadline := time.Now().Add(time.Minute)
	for {
		err := k8s.Create(ctx, u.DeepCopy(), client.DryRunAll)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the operator's JackUser webhook does not serve: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("jack-test-%d", nsSeq.Add(1))}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// result is what one run of the plugin printed, and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// plugin runs `kubectl jack args...` in-process against the suite's API
// server in namespace ns, with stdin as its standard input.
func plugin(t *testing.T, ns, stdin string, args ...string) result {
	t.Helper()
	return pluginAt(t, kubeconfig, ns, stdin, args...)
}

// pluginAt runs `kubectl jack args...` in-process against the API server
// of the kubeconfig file at path.
func pluginAt(t *testing.T, path, ns, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"--kubeconfig", path, "-n", ns}, args...),
		genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// mustSucceed runs the plugin and fails the test unless it exits 0.
func mustSucceed(t *testing.T, ns, stdin string, args ...string) result {
	t.Helper()
	r := plugin(t, ns, stdin, args...)
	if r.code != 0 {
		t.Fatalf("kubectl jack %s failed:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// mustFail runs the plugin and fails the test unless it exits 1 with want
// in its error output.
func mustFail(t *testing.T, ns, stdin, want string, args ...string) result {
	t.Helper()
	r := plugin(t, ns, stdin, args...)
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("kubectl jack %s: want exit 1 saying %q, got:\n%s", strings.Join(args, " "), want, r)
	}
	return r
}

// shownOnce returns the value printed after label's "(shown once, never
// again): " in out, failing the test unless it is there exactly once.
func shownOnce(t *testing.T, out, label string) string {
	t.Helper()
	prefix := label + " (shown once, never again): "
	if n := strings.Count(out, prefix); n != 1 {
		t.Fatalf("want one %q line, got %d in:\n%s", prefix, n, out)
	}
	_, rest, _ := strings.Cut(out, prefix)
	value, _, _ := strings.Cut(rest, "\n")
	if strings.Count(out, value) != 1 {
		t.Fatalf("the value is printed more than once:\n%s", out)
	}
	return value
}

// noSecretIn fails the test if any of secrets appears in what r printed.
func noSecretIn(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret proves nothing")
		}
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("a password or key was printed:\n%s", r)
		}
	}
}
