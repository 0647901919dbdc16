package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/testsupport/promtext"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// These tests run the operator binary, built as a release is: its version
// stamped through the linker (internal/version).

const (
	versionVariable = "github.com/jack-io/jack-operator/internal/version.Version"
	stampedVersion  = "9.9.9-test"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jack-operator-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-ldflags", "-X "+versionVariable+"="+stampedVersion, "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the operator:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// versionLine is what --version prints for the test build.
var versionLine = regexp.MustCompile(`^jack-operator ` + regexp.QuoteMeta(stampedVersion) + ` \(revision ([0-9a-f]{7}(-dirty)?|unknown), ` +
	regexp.QuoteMeta(runtime.Version()) + `, ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`)

// --version and `version` print the build and exit 0 at once, without a
// cluster: the kubeconfig named and the in-cluster address lead nowhere.
func TestVersionPrintsTheStampedVersionAndExits(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version", "--kubeconfig", "/nonexistent"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, args...)
			cmd.Env = []string{"KUBECONFIG=/nonexistent", "KUBERNETES_SERVICE_HOST=192.0.2.1", "KUBERNETES_SERVICE_PORT=443"}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("manager %s: %v (%s)", strings.Join(args, " "), err, out)
			}
			if !versionLine.Match(out) {
				t.Errorf("manager %s printed %q, want a line matching %s", strings.Join(args, " "), out, versionLine)
			}
		})
	}
	out, err := exec.Command(binary, "version", "extra").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "version takes no arguments") {
		t.Errorf("manager version extra: %v, %s; want a refusal", err, out)
	}
}

// injectedPodsOneLiner lists every injected pod with its sidecar's image
// and the operator version that injected it (docs/install.md). A native
// sidecar is an init container, an older or non-native one a container:
// the pod has one of the two, so the two images print as one.
const injectedPodsOneLiner = `kubectl get pods -A -o jsonpath='{range .items[?(@.metadata.annotations.auth\.jack\.io/injected-version)]}` +
	`{.metadata.namespace}/{.metadata.name}{"\t"}{.spec.initContainers[?(@.name=="jack-auth")].image}{.spec.containers[?(@.name=="jack-auth")].image}` +
	`{"\t"}{.metadata.annotations.auth\.jack\.io/injected-version}{"\n"}{end}'`

// The running operator says its version in its startup line and in
// jack_operator_build_info, and records it on the pods it injects, where
// injectedPodsOneLiner finds it beside the sidecar's image; pods an older
// version injected keep their sidecar, as after an upgrade.
func TestARunningOperatorReportsItsVersionAndStampsThePodsItInjects(t *testing.T) {
	env, err := testenv.Start(testenv.Scheme(), testenv.WithWebhooks())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}

	const sidecarImage = "registry.example.com/jack/jack-auth:9.9.9-test@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	metrics, probe := freeAddr(t), freeAddr(t)
	cmd := exec.Command(binary, "--kubeconfig="+kubeconfig, "--metrics-bind-address="+metrics, "--health-probe-bind-address="+probe,
		"--operator-namespace=jack-system", "--webhook-cert-mode=files", "--webhook-cert-dir="+env.Webhook.CertDir,
		"--webhook-host="+env.Webhook.Host, fmt.Sprintf("--webhook-port=%d", env.Webhook.Port), "--sidecar-image="+sidecarImage)
	var logs testenv.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("the operator's log:\n%s", logs.String())
		}
	})
	poll.Until(t, time.Minute, "the operator ready", func() error {
		resp, err := http.Get("http://" + probe + "/readyz")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answers %s", resp.Status)
		}
		return nil
	})

	var starting struct{ Msg, Version, Revision, GoVersion string }
	for _, line := range strings.Split(logs.String(), "\n") {
		if json.Unmarshal([]byte(line), &starting) == nil && starting.Msg == "starting the operator" {
			break
		}
	}
	if starting.Msg == "" || starting.Version != stampedVersion || starting.Revision == "" || starting.GoVersion != runtime.Version() {
		t.Errorf("the startup line says version %q, revision %q, go %q; want %s, a revision, %s",
			starting.Version, starting.Revision, starting.GoVersion, stampedVersion, runtime.Version())
	}
	series := promtext.Scrape(t, "http://"+metrics+"/metrics", "jack_operator_build_info")
	want := map[string]string{"version": stampedVersion, "revision": starting.Revision, "goversion": runtime.Version()}
	if len(series) != 1 || series[0].Value != "1" || !maps.Equal(series[0].Labels, want) {
		t.Errorf("jack_operator_build_info is %v, want one series %v 1", series, want)
	}

	// What an operator upgrade finds: pods running with the sidecar an
	// older version injected (one native, one a regular container), and
	// one that runs without it. They were created before the namespace
	// was labelled for injection, as pods created before an upgrade were
	// admitted by the old operator.
	ctx := context.Background()
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	if err := env.Client.Create(ctx, shop); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Name: "jack", Namespace: "shop"}}); err != nil {
		t.Fatal(err)
	}
	optedIn := map[string]string{jack.LabelInject: jack.InjectRequested}
	jackPod := func(name string, annotations map[string]string, init, containers []corev1.Container) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: optedIn, Annotations: annotations},
			Spec: corev1.PodSpec{InitContainers: init, Containers: append([]corev1.Container{{Name: "jack", Image: "jack:1"}}, containers...)}}
	}
	always := corev1.ContainerRestartPolicyAlways
	const oldImage = "registry.example.com/jack/jack-auth:0.0.9@sha256:9999999999999999999999999999999999999999999999999999999999999999"
	old := map[string]string{jack.AnnotationInjectedVersion: "0.0.9"}
	running := []*corev1.Pod{
		jackPod("native", old, []corev1.Container{{Name: jack.SidecarContainerName, Image: oldImage, RestartPolicy: &always}}, nil),
		jackPod("regular", old, nil, []corev1.Container{{Name: jack.SidecarContainerName, Image: oldImage}}),
		jackPod("bare", nil, nil, nil),
	}
	for _, p := range running {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		if err := env.Client.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	shop.Labels = map[string]string{jack.LabelInjection: jack.InjectionEnabled}
	if err := env.Client.Update(ctx, shop); err != nil {
		t.Fatal(err)
	}

	// A pod created now is injected by this version, with its sidecar image.
	poll.Until(t, 30*time.Second, "the webhook injecting a new pod", func() error {
		// Until the webhook's cache holds the SigningKey, it refuses the pod;
		// until it has seen the namespace's label, it lets it through bare.
		p := jackPod("new", nil, nil, nil)
		if err := env.Client.Create(ctx, p); err != nil {
			return err
		}
		if p.Annotations[jack.AnnotationInjectedVersion] == "" {
			_ = env.Client.Delete(ctx, p, client.GracePeriodSeconds(0))
			return fmt.Errorf("created without the sidecar: the webhook had not seen namespace shop's label yet")
		}
		return nil
	})
	// The running pods are left as they are: the webhook sees pods only when
	// they are created, and the missed-injection detector counts only the
	// pod without any sidecar, not those with an older one.
	poll.Until(t, 30*time.Second, "jack_pods_missing_sidecar{namespace=\"shop\"} counting the bare pod", func() error {
		for _, s := range promtext.Scrape(t, "http://"+metrics+"/metrics", "jack_pods_missing_sidecar") {
			if s.Labels["namespace"] == "shop" && s.Value == "1" {
				return nil
			} else if s.Labels["namespace"] == "shop" {
				return fmt.Errorf("it is %s", s.Value)
			}
		}
		return fmt.Errorf("no series for shop")
	})
	for _, p := range running[:2] {
		p.Labels["touched"] = "yes" // an update, which the webhook is not called for
		if err := env.Client.Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	sh := exec.Command("sh", "-c", injectedPodsOneLiner)
	sh.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+filepath.Join(env.RepoRoot, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", injectedPodsOneLiner, err, out)
	}
	if want := "shop/native\t" + oldImage + "\t0.0.9\nshop/new\t" + sidecarImage + "\t" + stampedVersion + "\nshop/regular\t" + oldImage + "\t0.0.9\n"; string(out) != want {
		t.Errorf("%s printed\n%s\nwant\n%s", injectedPodsOneLiner, out, want)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}
