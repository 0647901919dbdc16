package gateways

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/testsupport/kubelettest"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
	"github.com/jack-io/jack-operator/internal/userdir"
)

var (
	// root is the repository, where docs/gateways and bin/ are.
	root string
	// sidecarBinary is jack-auth, built once for the package.
	sidecarBinary string
)

func TestMain(m *testing.M) {
	var err error
	if root, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "gateways:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "jack-gateways")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateways:", err)
		os.Exit(1)
	}
	sidecarBinary = filepath.Join(dir, "jack-auth")
	build := exec.Command("go", "build", "-o", sidecarBinary, "./sidecar")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateways: building the sidecar:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// requireGateways is JACK_REQUIRE_GATEWAYS=1: a missing gateway fails the
// test instead of skipping it (make test-gateways, CI).
func requireGateways() bool { return os.Getenv("JACK_REQUIRE_GATEWAYS") == "1" }

// missing skips or fails a test whose gateway is not installed.
func missing(t *testing.T, what, how string) {
	t.Helper()
	if requireGateways() {
		t.Fatalf("%s is missing and JACK_REQUIRE_GATEWAYS=1: %s", what, how)
	}
	t.Skipf("%s is missing (%s); set JACK_REQUIRE_GATEWAYS=1 to fail instead", what, how)
}

// The users every stack knows, one per role.
type user struct {
	id, email, name string
	role            jack.Role
}

var (
	admin   = user{"admin-1", "ada@example.com", "Ada Admin", jack.RoleAdmin}
	manager = user{"manager-1", "max@example.com", "Max Manager", jack.RoleManager}
	staff   = user{"staff-1", "sam@example.com", "Sam Staff", jack.RoleStaff}
	users   = []user{admin, manager, staff}
)

func passwordOf(u user) string { return "the password of " + u.id }

// cheap makes argon2id fast; the sidecar verifies with whatever parameters
// a hash carries.
var cheap = password.Params{Memory: 64, Iterations: 1, Threads: 1}

// secrets are a key ring and a user directory laid out as the kubelet
// mounts their Secrets.
type secrets struct {
	ring      *keyring.Ring
	dir       *userdir.Directory
	keysFile  string
	usersFile string
}

func newSecrets(t *testing.T) *secrets {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	k, err := keyring.Generate(jack.AlgorithmHS256, "k1")
	if err != nil {
		t.Fatal(err)
	}
	k.State, k.PublishedAt, k.ActivatedAt, k.MaxTokenTTL = jack.KeyActive, now, now, time.Hour
	s := &secrets{ring: &keyring.Ring{TokenTTL: time.Hour, Keys: []keyring.Key{k}}, dir: &userdir.Directory{}}
	for _, u := range users {
		h, err := password.Hash(passwordOf(u), cheap)
		if err != nil {
			t.Fatal(err)
		}
		s.dir.Users = append(s.dir.Users, userdir.User{ID: u.id, Email: u.email, Name: u.name, Role: u.role, PasswordHash: h, PasswordVersion: "1"})
	}
	ring, err := s.ring.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := s.dir.Encode()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	keys := kubelettest.NewVolume(t, filepath.Join(base, "keys"), map[string][]byte{jack.SecretKeyKeyRing: ring})
	ud := kubelettest.NewVolume(t, filepath.Join(base, "users"), map[string][]byte{jack.SecretKeyUserDirectory: dir})
	s.keysFile, s.usersFile = keys.Path(jack.SecretKeyKeyRing), ud.Path(jack.SecretKeyUserDirectory)
	return s
}

// token is a token of u, as a client gets one: logged in at the stack's
// sidecar directly (not through the gateway, whose throttles other tests
// count), once per stack and user.
func (st *stack) token(t *testing.T, u user) string {
	t.Helper()
	st.tokensMu.Lock()
	defer st.tokensMu.Unlock()
	if tok, ok := st.tokens[u.id]; ok {
		return tok
	}
	body, _ := json.Marshal(map[string]string{"email": u.email, "password": passwordOf(u)})
	resp, err := http.Post("http://"+st.sidecar.addr+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("logging %s in: %v", u.email, err)
	}
	defer resp.Body.Close()
	var in struct {
		Data struct{ Token string } `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil || resp.StatusCode != http.StatusOK || in.Data.Token == "" {
		t.Fatalf("logging %s in: %s (%v)", u.email, resp.Status, err)
	}
	if st.tokens == nil {
		st.tokens = map[string]string{}
	}
	st.tokens[u.id] = in.Data.Token
	return in.Data.Token
}

// process is a child process whose standard error is kept for failures.
type process struct {
	name string
	cmd  *exec.Cmd
	logs *testenv.Buffer
	done chan struct{}
}

func startProcess(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, logs: &testenv.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, p.logs.String())
		}
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop(t *testing.T) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 15s of SIGTERM", p.name)
	}
}

// sidecar is jack-auth serving on loopback.
type sidecar struct {
	*process
	addr string // host:port of the main port
}

func startSidecar(t *testing.T, s *secrets, args ...string) *sidecar {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--keys", s.keysFile, "--users", s.usersFile}, args...)
	sc := &sidecar{process: startProcess(t, "the sidecar", exec.Command(sidecarBinary, args...))}
	var ops string
	poll.True(t, 15*time.Second, "the sidecar to serve", func() bool {
		if sc.exited() {
			t.Fatalf("the sidecar exited:\n%s", sc.logs.String())
		}
		for _, line := range strings.Split(sc.logs.String(), "\n") {
			var l struct{ Msg, Listen, Metrics string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" {
				sc.addr, ops = l.Listen, l.Metrics
				return true
			}
		}
		return false
	})
	poll.True(t, 15*time.Second, "the sidecar to be ready", func() bool {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return sc
}

// seen is one request as a server received it, and the answer it gave.
type seen struct {
	Method string
	URI    string // the request-target, exactly as received
	Header http.Header
	// Status and Body are the answer (the tap fills them in when it has
	// read the answer).
	Status int
	Body   string
}

// markerHeader tags each test request, so the records of Jack and of the
// sidecar's port can be told apart. It claims nothing.
const markerHeader = "X-Test-Request"

// recorder keeps what a server received, by marker.
type recorder struct {
	mu   sync.Mutex
	seen map[string][]*seen
}

func (r *recorder) add(s *seen) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string][]*seen{}
	}
	m := s.Header.Get(markerHeader)
	r.seen[m] = append(r.seen[m], s)
}

// of returns copies of the records of a marker.
func (r *recorder) of(marker string) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []seen
	for _, s := range r.seen[marker] {
		out = append(out, *s)
	}
	return out
}

// jackApp stands in for Jack: it answers every request with what it
// received, as JSON, and records it.
type jackApp struct {
	recorder
	srv *httptest.Server
}

func startJack(t *testing.T) *jackApp {
	j := &jackApp{}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &seen{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Status: http.StatusOK}
		j.add(s)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Served-By", "jack")
		_ = json.NewEncoder(w).Encode(map[string]any{"method": s.Method, "uri": s.URI, "headers": s.Header})
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jackApp) addr() string { return strings.TrimPrefix(j.srv.URL, "http://") }

// freePort finds a loopback port nothing listens on, for a gateway that
// must be told its address up front.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
