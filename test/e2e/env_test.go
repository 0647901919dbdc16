//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/internal/testsupport/netns"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// cluster is the running local cluster: a client as its administrator,
// kubectl and helm with its kubeconfig, and HTTP from inside its network.
type cluster struct {
	root       string
	kubeconfig string
	k8s        client.Client
	http       *http.Client
}

var c *cluster

func TestMain(m *testing.M) {
	var err error
	if c, err = connect(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func connect() (*cluster, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	state := filepath.Join(root, "bin", "cluster")
	kc := envOr("JACK_E2E_KUBECONFIG", filepath.Join(state, "kubeconfig"))
	pidText, err := os.ReadFile(filepath.Join(state, "node.pid"))
	if err != nil {
		return nil, fmt.Errorf("the local cluster is not running (%v): run `make cluster-up` first, or `make e2e`", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		return nil, fmt.Errorf("bin/cluster/node.pid: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return nil, fmt.Errorf("the cluster's kubeconfig %s: %w", kc, err)
	}
	k8s, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		return nil, err
	}
	d, err := netns.NewDialer(context.Background(), pid)
	if err != nil {
		return nil, fmt.Errorf("reaching into the cluster's network: %w", err)
	}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	return &cluster{root: root, kubeconfig: kc, k8s: k8s, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run runs one of bin/'s tools against the cluster and returns its output.
func (c *cluster) run(t testing.TB, tool string, args ...string) string {
	t.Helper()
	out, err := c.try(tool, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) try(tool string, args ...string) (string, error) {
	return c.tryInput("", tool, args...)
}

// tryInput is try with stdin as the tool's standard input.
func (c *cluster) tryInput(stdin, tool string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.root, "bin", tool), append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Dir = c.root // paths in args are the repository's
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// host runs one of bin/'s tools on the host, without a kubeconfig: crane
// talks to the cluster's registry through its forward at localhost:5001.
func (c *cluster) host(t testing.TB, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.root, "bin", tool), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// answer is a decoded answer in Jack's envelope.
type answer struct {
	Status int
	Body   struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Error   struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	Raw string
}

// session is the data of a login or refresh answer.
type session struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
	User      struct {
		ID, Name, Email, Role string
	} `json:"user"`
}

// echoed is what jack-echo answers: who the sidecar said is calling.
type echoed struct {
	Resource string `json:"resource"`
	User     struct {
		ID, Email, Role string
	} `json:"user"`
	Headers map[string][]string `json:"headers"`
	Pod     string              `json:"pod"`
}

// do sends a request to addr (an IP:port inside the cluster).
func (c *cluster) do(t testing.TB, method, addr, path string, headers map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		if resp, err = c.http.Do(req); err == nil || attempt == 5 {
			break
		}
		time.Sleep(200 * time.Millisecond) // a connection refused while a pod restarts its sidecar
	}
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, addr, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

func (a answer) session(t testing.TB) session {
	t.Helper()
	var s session
	if a.Status != http.StatusOK || json.Unmarshal(a.Body.Data, &s) != nil || s.Token == "" {
		t.Fatalf("want a session, got %d %s", a.Status, a.Raw)
	}
	return s
}

func (a answer) echo(t testing.TB) echoed {
	t.Helper()
	var e echoed
	if a.Status != http.StatusOK || json.Unmarshal(a.Body.Data, &e) != nil {
		t.Fatalf("want jack-echo's answer, got %d %s", a.Status, a.Raw)
	}
	return e
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func (c *cluster) login(t testing.TB, addr, email, password string) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return c.do(t, "POST", addr, "/api/v1/auth/login", nil, string(body))
}

// kid is the key id in a token's header.
func kid(t testing.TB, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Kid string }
	if err != nil || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("a token whose header does not decode")
	}
	return h.Kid
}

func ctx() context.Context { return context.Background() }

// pushedBuild is one build of this tree's images that hack/e2e.sh pushed to
// the cluster's registry (hack/cluster/cluster.sh images VERSION), as
// bin/images/<VERSION>.env records it: the version, the registry and each
// image's digest.
type pushedBuild struct {
	Version, Registry       string
	Operator, Sidecar, Echo string // digests, sha256:...
}

// pushedImages reads bin/images/<version>.env.
func pushedImages(t testing.TB, version string) pushedBuild {
	t.Helper()
	file := filepath.Join(c.root, "bin", "images", version+".env")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the images of version %s were not pushed (%v): hack/e2e.sh pushes them, or hack/cluster/cluster.sh images %s", version, err, version)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	b := pushedBuild{Version: env["JACK_VERSION"], Registry: env["JACK_REGISTRY"],
		Operator: env["JACK_OPERATOR_DIGEST"], Sidecar: env["JACK_SIDECAR_DIGEST"], Echo: env["JACK_ECHO_DIGEST"]}
	if b.Version != version || b.Registry == "" || b.Operator == "" || b.Sidecar == "" || b.Echo == "" {
		t.Fatalf("%s lacks a version, registry or digest: %+v", file, b)
	}
	return b
}

// chartValues are helm's flags that install this build: every image from the
// cluster's registry, the operator and the sidecar pinned by digest.
func (b pushedBuild) chartValues() []string {
	return []string{
		"--set", "image.registry=" + b.Registry, "--set", "image.tag=" + b.Version,
		"--set", "image.digest=" + b.Operator, "--set", "image.pullPolicy=IfNotPresent",
		"--set", "sidecar.image.tag=" + b.Version, "--set", "sidecar.image.digest=" + b.Sidecar,
		"--set", "sidecar.imagePullPolicy=IfNotPresent",
	}
}

// chart is the chart reference and flags that install this build as a user
// installs a release: the chart hack/release.sh pushed next to the images
// (a pre-release of Chart.yaml's version), its values pinning their digests.
func (b pushedBuild) chart() []string {
	return []string{"oci://" + b.Registry + "/charts/jack-operator", "--version", chartVersion(b.Version), "--plain-http"}
}

// chartVersion is the version hack/release.sh gives the chart of a build
// that is not a release: a pre-release of Chart.yaml's version.
func chartVersion(build string) string {
	raw, err := os.ReadFile(filepath.Join(c.root, "charts", "jack-operator", "Chart.yaml"))
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "version:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"`) + "-" + build
		}
	}
	panic("charts/jack-operator/Chart.yaml has no version")
}

// operatorRef is the operator image the chart of this build runs.
func (b pushedBuild) operatorRef() string {
	return b.Registry + "/jack-operator:" + b.Version + "@" + b.Operator
}

// sidecarRef is the sidecar image the operator injects with chartValues.
func (b pushedBuild) sidecarRef() string {
	return b.Registry + "/jack-auth:" + b.Version + "@" + b.Sidecar
}

// echoRef is jack-echo's image, by tag and digest.
func (b pushedBuild) echoRef() string {
	return b.Registry + "/jack-echo:" + b.Version + "@" + b.Echo
}
