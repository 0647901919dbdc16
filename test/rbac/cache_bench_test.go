package rbac

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// unrelated is what the benchmark fills the cluster with: Secrets and
// ConfigMaps of another application, each 10 KB, in a namespace of their own.
const (
	unrelatedNS    = "elsewhere"
	unrelatedCount = 10_000
	unrelatedBytes = 10 << 10
	// rssBudget is how much the operator may grow with them (issue 15).
	rssBudget = 10 << 20
)

// BenchmarkOperatorRSSWithUnrelatedSecrets measures what a cluster full of
// Secrets and ConfigMaps that are not the operator's costs it: the real
// operator binary (go build), started as the chart's Deployment starts it —
// its arguments and environment, the chart's ServiceAccount and RBAC — on
// a real API server, its resident memory (VmRSS) once steady on a cluster
// holding one SigningKey and one JackUser, then once steady again after
// 10,000 10 KB Secrets and 10,000 10 KB ConfigMaps were created in another
// namespace. It fails when the growth passes 10 MB. It takes minutes:
//
//	make bench-cache
//	go test -run '^$' -bench OperatorRSS -benchtime 1x ./test/rbac/
func BenchmarkOperatorRSSWithUnrelatedSecrets(b *testing.B) {
	for range b.N {
		in := installChart(b)
		pid := in.startOperatorProcess(b)
		ctx := context.Background()
		in.oneOfEach(b)
		empty := steadyRSS(b, pid)
		b.Logf("the operator's RSS on a cluster without unrelated objects: %.1f MB", mb(empty))

		start := time.Now()
		in.fillWithUnrelated(b)
		b.Logf("%d Secrets and %d ConfigMaps of %d bytes created in %s", unrelatedCount, unrelatedCount, unrelatedBytes, time.Since(start).Round(time.Second))
		full := steadyRSS(b, pid)
		b.Logf("the operator's RSS with them: %.1f MB (%+.1f MB)", mb(full), mb(full-empty))
		b.ReportMetric(mb(empty), "rss-empty-MB")
		b.ReportMetric(mb(full), "rss-full-MB")
		b.ReportMetric(mb(full-empty), "rss-growth-MB")
		if full-empty > rssBudget {
			b.Errorf("the operator's RSS grew by %.1f MB with unrelated Secrets and ConfigMaps, more than %d MB", mb(full-empty), rssBudget>>20)
		}
		// The operator still works: a password change still reaches the
		// directory, through the metadata it watches.
		in.passwordChangeReachesTheOperator(b, ctx)
	}
}

// startOperatorProcess builds the operator and runs it as the chart's
// Deployment would: its arguments and environment, authenticated as the
// chart's ServiceAccount (a client certificate for that name and groups),
// with the test's listeners. It returns once the operator is ready and
// leads.
func (in *chartInstall) startOperatorProcess(b *testing.B) int {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build of the operator: %v\n%s", err, out)
	}
	id := in.identity()
	user, err := in.apiServer.AddUser(envtest.User{Name: id.UserName, Groups: id.Groups}, nil)
	if err != nil {
		b.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		b.Fatal(err)
	}
	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		b.Fatal(err)
	}
	probe := freePort(b)
	args := append(slices.Clone(in.args), "--kubeconfig="+kubeconfigPath,
		"--metrics-bind-address=0", fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe),
		"--webhook-host=127.0.0.1", fmt.Sprintf("--webhook-port=%d", in.webhookPort), "--webhook-cert-ip-sans=127.0.0.1")
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range in.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs, err := os.Create(filepath.Join(dir, "operator.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if b.Failed() {
			out, _ := os.ReadFile(logs.Name())
			b.Logf("the operator's logs:\n%s", withoutStacktraces(string(out)))
		}
	})
	poll.Until(b, time.Minute, "the operator ready", func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probe))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %s", resp.Status)
		}
		return nil
	})
	return cmd.Process.Pid
}

// oneOfEach gives the operator something to do, so every informer it
// keeps is running: a SigningKey, and a JackUser with its password.
func (in *chartInstall) oneOfEach(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shopNS}},
		&authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: shopNS}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ana-password", Namespace: shopNS}, Data: map[string][]byte{"password": []byte("correct horse battery staple")}},
	} {
		if err := in.admin.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	ana := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: "ana", Namespace: shopNS}, Spec: authv1alpha1.JackUserSpec{
		Email: "ana@example.com", Name: "Ana", Role: jack.RoleAdmin, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: "ana-password"}}}
	poll.Until(b, timeout, "JackUser ana admitted by the webhook", func() error {
		return client.IgnoreAlreadyExists(in.admin.Create(ctx, ana.DeepCopy()))
	})
	in.waitUserReady(b, "ana", "")
}

// waitUserReady waits for a JackUser to be Ready with a password version
// other than notVersion, and returns it.
func (in *chartInstall) waitUserReady(b *testing.B, name, notVersion string) string {
	b.Helper()
	var version string
	poll.Until(b, timeout, "JackUser "+name+" Ready", func() error {
		u := &authv1alpha1.JackUser{}
		if err := in.admin.Get(context.Background(), client.ObjectKey{Namespace: shopNS, Name: name}, u); err != nil {
			return err
		}
		if u.Status.PasswordVersion == "" || u.Status.PasswordVersion == notVersion {
			return fmt.Errorf("status %+v", u.Status)
		}
		version = u.Status.PasswordVersion
		return nil
	})
	return version
}

func (in *chartInstall) passwordChangeReachesTheOperator(b *testing.B, ctx context.Context) {
	b.Helper()
	before := in.waitUserReady(b, "ana", "")
	pw := &corev1.Secret{}
	if err := in.admin.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: "ana-password"}, pw); err != nil {
		b.Fatal(err)
	}
	pw.Data["password"] = []byte("a new and longer passphrase")
	if err := in.admin.Update(ctx, pw); err != nil {
		b.Fatal(err)
	}
	in.waitUserReady(b, "ana", before)
}

// fillWithUnrelated creates the unrelated Secrets and ConfigMaps, a few at
// a time.
func (in *chartInstall) fillWithUnrelated(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	if err := in.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: unrelatedNS}}); err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), unrelatedBytes)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 8 {
		wg.Go(func() {
			for i := range jobs {
				name := fmt.Sprintf("app-%05d", i)
				labels := map[string]string{"app.kubernetes.io/managed-by": "Helm", "owner": "helm"}
				err := in.admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: unrelatedNS, Labels: labels},
					Data: map[string][]byte{"release": payload}})
				if err == nil {
					err = in.admin.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: unrelatedNS, Labels: labels},
						Data: map[string]string{"settings": string(payload)}})
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range unrelatedCount {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("creating the unrelated objects: %v", firstErr)
	}
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// settle is how long the operator is left alone before its RSS is read:
// longer than the Go runtime's forced garbage collection period (2 min), so
// both readings come after at least one collection and the scavenger's
// return of the memory it freed, not from the start-up's or the informers'
// initial lists' garbage.
const settle = 130 * time.Second

// steadyRSS waits for the process's resident memory to settle after what
// just happened, then returns the median of 20 readings a second apart.
func steadyRSS(b *testing.B, pid int) int64 {
	b.Helper()
	time.Sleep(settle)
	var samples []int64
	for range 20 {
		samples = append(samples, vmRSS(b, pid))
		time.Sleep(time.Second)
	}
	slices.Sort(samples)
	return samples[len(samples)/2]
}

// vmRSS reads a process's VmRSS, in bytes.
func vmRSS(b *testing.B, pid int) int64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
