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
// its arguments and environment, the chart's ServiceAccount and RBAC, the Go
// runtime's default GOGC and GODEBUG — on a real API server, its memory once
// steady on a cluster holding one SigningKey and one JackUser, then once
// steady again after 10,000 10 KB Secrets and 10,000 10 KB ConfigMaps were
// created in another namespace. It reports both the resident memory
// (VmRSS) and the Go heap in use that the operator's own /metrics reports
// (go_memstats_heap_inuse_bytes, steadier: it does not wait for the
// runtime to hand freed pages back), and fails when the RSS grew by more
// than 10 MB. It takes minutes:
//
//	make bench-cache
//	go test -run '^$' -bench OperatorRSS -benchtime 1x ./test/rbac/
func BenchmarkOperatorRSSWithUnrelatedSecrets(b *testing.B) {
	for range b.N {
		in := installChart(b, nil)
		op := in.startOperatorProcess(b)
		ctx := context.Background()
		in.oneOfEach(b)
		empty := op.steadyMemory(b)
		b.Logf("the operator on a cluster without unrelated objects: %s", empty)

		start := time.Now()
		in.fillWithUnrelated(b)
		b.Logf("%d Secrets and %d ConfigMaps of %d bytes created in %s", unrelatedCount, unrelatedCount, unrelatedBytes, time.Since(start).Round(time.Second))
		full := op.steadyMemory(b)
		b.Logf("the operator with them: %s; growth: RSS %+.1f MB, heap in use %+.1f MB", full, mb(full.rss-empty.rss), mb(full.heapInuse-empty.heapInuse))
		b.ReportMetric(mb(empty.rss), "rss-empty-MB")
		b.ReportMetric(mb(full.rss), "rss-full-MB")
		b.ReportMetric(mb(full.rss-empty.rss), "rss-growth-MB")
		b.ReportMetric(mb(empty.heapInuse), "heap-inuse-empty-MB")
		b.ReportMetric(mb(full.heapInuse), "heap-inuse-full-MB")
		b.ReportMetric(mb(full.heapInuse-empty.heapInuse), "heap-inuse-growth-MB")
		b.ReportMetric(mb(full.alloc-empty.alloc), "heap-alloc-growth-MB")
		if full.rss-empty.rss > rssBudget {
			b.Errorf("the operator's RSS grew by %.1f MB with unrelated Secrets and ConfigMaps, more than %d MB", mb(full.rss-empty.rss), rssBudget>>20)
		}
		// The operator still works: a password change still reaches the
		// directory, through the metadata it watches.
		in.passwordChangeReachesTheOperator(b, ctx)
	}
}

// operatorProcess is the operator binary running as the chart's Deployment.
type operatorProcess struct {
	pid int
	// metrics is the address of its Prometheus endpoint.
	metrics string
}

// startOperatorProcess builds the operator and runs it as the chart's
// Deployment would: its arguments and environment, authenticated as the
// chart's ServiceAccount (a client certificate for that name and groups),
// with the test's listeners. It returns once the operator is ready and
// leads.
func (in *chartInstall) startOperatorProcess(b *testing.B) *operatorProcess {
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
	probe, metrics := freePort(b), fmt.Sprintf("127.0.0.1:%d", freePort(b))
	args := append(slices.Clone(in.args), "--kubeconfig="+kubeconfigPath,
		"--metrics-bind-address="+metrics, fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe),
		"--webhook-host=127.0.0.1", fmt.Sprintf("--webhook-port=%d", in.webhookPort), "--webhook-cert-ip-sans=127.0.0.1")
	cmd := exec.Command(bin, args...)
	// The Go runtime's defaults, as in the Deployment: not whatever GOGC,
	// GODEBUG or GOMEMLIMIT the benchmark itself runs with.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GODEBUG=") || strings.HasPrefix(kv, "GOMEMLIMIT=")
	})
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
	return &operatorProcess{pid: cmd.Process.Pid, metrics: metrics}
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

// memory is what the operator holds: resident, and of its Go heap (from its
// /metrics), in use and allocated.
type memory struct{ rss, heapInuse, alloc int64 }

func (m memory) String() string {
	return fmt.Sprintf("RSS %.1f MB, heap in use %.1f MB, heap allocated %.1f MB", mb(m.rss), mb(m.heapInuse), mb(m.alloc))
}

// How steadyMemory decides the operator's memory has settled: not before
// settle, longer than the Go runtime's forced garbage collection period
// (2 min), so a reading comes after at least one collection since the
// start-up's or the informers' initial lists' garbage; then windows of
// 10 readings a second apart until the RSS medians of two consecutive
// windows are within steadyWithin (the runtime returns freed memory to the
// OS gradually, so right after start-up the RSS keeps falling for minutes);
// at most maxSettle.
const (
	settle       = 130 * time.Second
	window       = 10
	steadyWithin = 1 << 20
	maxSettle    = 10 * time.Minute
)

// steadyMemory waits for the operator's memory to settle after what just
// happened, and returns the last window's medians.
func (p *operatorProcess) steadyMemory(b *testing.B) memory {
	b.Helper()
	start := time.Now()
	time.Sleep(settle)
	var last *memory
	for {
		var rss, inuse, alloc []int64
		for range window {
			rss = append(rss, vmRSS(b, p.pid))
			m := p.goMemStats(b)
			inuse, alloc = append(inuse, m["go_memstats_heap_inuse_bytes"]), append(alloc, m["go_memstats_alloc_bytes"])
			time.Sleep(time.Second)
		}
		this := memory{rss: median(rss), heapInuse: median(inuse), alloc: median(alloc)}
		if last != nil && abs(this.rss-last.rss) <= steadyWithin {
			b.Logf("steady after %s: %s", time.Since(start).Round(time.Second), this)
			return this
		}
		if time.Since(start) > maxSettle {
			b.Logf("not steady after %s (RSS %.1f MB, then %.1f MB): taking the last window", maxSettle, mb(last.rss), mb(this.rss))
			return this
		}
		last = &this
	}
}

// goMemStats reads the Go runtime's gauges from the operator's /metrics.
func (p *operatorProcess) goMemStats(b *testing.B) map[string]int64 {
	b.Helper()
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, "go_memstats_") {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			b.Fatalf("/metrics: %s: %v", sc.Text(), err)
		}
		out[name] = int64(f)
	}
	for _, name := range []string{"go_memstats_heap_inuse_bytes", "go_memstats_alloc_bytes"} {
		if _, ok := out[name]; !ok {
			b.Fatalf("the operator's /metrics has no %s", name)
		}
	}
	return out
}

func median(v []int64) int64 {
	slices.Sort(v)
	return v[len(v)/2]
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
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
