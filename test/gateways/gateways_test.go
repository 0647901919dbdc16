package gateways

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// gateway is a real gateway the tests can run in front of the sidecar.
type gateway struct {
	name string
	// dialect is the sidecar's --forward-auth behind this gateway.
	dialect string
	// start runs the gateway on listen with the documented configuration,
	// passed through edit (tests that break the configuration on purpose),
	// and returns once it routes.
	start func(t *testing.T, c config, edit func(string) string) *process
}

// config fills the documented configuration templates in docs/gateways/.
type config struct {
	Listen      string // where the gateway listens
	Sidecar     string // the sidecar's main port (through the tap)
	Jack        string // Jack
	DynamicFile string // Traefik: the dynamic configuration's path
}

var gateways = []gateway{
	{name: "nginx", dialect: "nginx", start: startNginx},
	{name: "traefik", dialect: "traefik", start: startTraefik},
}

// render fills a template from docs/gateways/ with c.
func render(t *testing.T, name string, c any) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "docs", "gateways", name))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		t.Fatalf("docs/gateways/%s is not a template: %v", name, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, c); err != nil {
		t.Fatalf("docs/gateways/%s: %v", name, err)
	}
	return b.String()
}

func nginxBinary() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// nginxMain is the test's own main configuration around the documented
// server block: everything nginx writes stays in the test's directory.
const nginxMain = `{{if .Root}}user root;
{{end}}worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;
events { worker_connections 512; }
http {
    access_log {{.Dir}}/access.log;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;
    include {{.Dir}}/jack.conf;
}
`

func startNginx(t *testing.T, c config, edit func(string) string) *process {
	t.Helper()
	bin := nginxBinary()
	if bin == "" {
		missing(t, "nginx", "apt-get install nginx, or hack/install-nginx.sh")
	}
	dir := t.TempDir()
	site := edit(render(t, "nginx.conf", c))
	if err := os.WriteFile(filepath.Join(dir, "jack.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	var main bytes.Buffer
	_ = template.Must(template.New("main").Parse(nginxMain)).Execute(&main, map[string]any{"Dir": dir, "Root": os.Geteuid() == 0})
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, main.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "nginx", exec.Command(bin, "-e", filepath.Join(dir, "error.log"), "-p", dir+"/", "-c", conf, "-g", "daemon off;"))
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx's error log:\n%s", log)
		}
	})
	waitListening(t, p, c.Listen)
	return p
}

func traefikBinary() string {
	p := filepath.Join(root, "bin", "traefik")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func startTraefik(t *testing.T, c config, edit func(string) string) *process {
	t.Helper()
	bin := traefikBinary()
	if bin == "" {
		missing(t, "bin/traefik", "hack/build-tools.sh traefik")
	}
	dir := t.TempDir()
	c.DynamicFile = filepath.Join(dir, "dynamic.yaml")
	if err := os.WriteFile(c.DynamicFile, []byte(edit(render(t, "traefik-dynamic.yaml", c))), 0o644); err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(dir, "traefik.yaml")
	// The first configuration applies at once rather than after the
	// default 2 s; the tests start a Traefik per stack.
	staticConf := strings.Replace(render(t, "traefik.yaml", c), "providers:\n", "providers:\n  providersThrottleDuration: 0s\n", 1)
	if err := os.WriteFile(static, []byte(edit(staticConf)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "traefik", exec.Command(bin, "--configFile="+static))
	waitListening(t, p, c.Listen)
	return p
}

// waitListening waits until a gateway accepts connections on addr.
func waitListening(t *testing.T, p *process, addr string) {
	t.Helper()
	poll.True(t, 20*time.Second, p.name+" to listen on "+addr, func() bool {
		if p.exited() {
			t.Fatalf("%s exited:\n%s", p.name, p.logs.String())
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		_ = conn.Close()
		return true
	})
}

// stack is one gateway in front of one sidecar in front of Jack:
//
//	client ─► gateway ─► tap ─► sidecar (/auth and the auth API)
//	             └────────────► Jack
type stack struct {
	gw      gateway
	secrets *secrets
	sidecar *sidecar
	tap     *tap
	jack    *jackApp
	addr    string
	// client is the default source address of this stack's requests, one
	// of its own so that throttles of other tests never count them.
	client string
	// tokens are the users' tokens (token), by user id.
	tokensMu sync.Mutex
	tokens   map[string]string
}

// stackOption changes how a stack is built.
type stackOption func(*stackOptions)

type stackOptions struct {
	sidecarArgs []string
	edit        func(string) string
}

// withSidecarArgs adds flags to the sidecar's command line.
func withSidecarArgs(args ...string) stackOption {
	return func(o *stackOptions) { o.sidecarArgs = append(o.sidecarArgs, args...) }
}

// withEdit changes the documented configuration before the gateway reads
// it, for tests of what a misconfiguration does.
func withEdit(edit func(string) string) stackOption {
	return func(o *stackOptions) { o.edit = edit }
}

var clients atomic.Int32

// nextClient is a fresh loopback source address (127.0.1.x, 127.0.2.x, …).
func nextClient() string {
	n := clients.Add(1)
	return net.IPv4(127, 0, byte(1+n/250), byte(1+n%250)).String()
}

func newStack(t *testing.T, gw gateway, opts ...stackOption) *stack {
	t.Helper()
	o := stackOptions{edit: func(s string) string { return s }}
	for _, opt := range opts {
		opt(&o)
	}
	// Skip before starting anything when the gateway is missing.
	switch gw.name {
	case "nginx":
		if nginxBinary() == "" {
			missing(t, "nginx", "apt-get install nginx, or hack/install-nginx.sh")
		}
	case "traefik":
		if traefikBinary() == "" {
			missing(t, "bin/traefik", "hack/build-tools.sh traefik")
		}
	}
	st := &stack{gw: gw, secrets: newSecrets(t), jack: startJack(t), client: nextClient()}
	st.sidecar = startSidecar(t, st.secrets, append([]string{"--forward-auth=" + gw.dialect, "--trusted-proxies=127.0.0.1/32"}, o.sidecarArgs...)...)
	st.tap = startTap(t, st.sidecar.addr)
	st.addr = freePort(t)
	gw.start(t, config{Listen: st.addr, Sidecar: st.tap.addr(), Jack: st.jack.addr()}, o.edit)
	// Routing is ready when the auth API reaches the sidecar and the rest
	// goes through /auth (Traefik loads its file provider after listening).
	poll.True(t, 20*time.Second, gw.name+" to route to the sidecar", func() bool {
		a := st.send(t, request{Method: "GET", Target: "/api/v1/auth/login"})
		b := st.send(t, request{Method: "GET", Target: "/index.html"})
		return len(a.Sidecar) > 0 && len(b.Sidecar) > 0 && len(b.Jack) > 0
	})
	return st
}

// forEachGateway runs f as a subtest per gateway, each with its own stack.
func forEachGateway(t *testing.T, f func(t *testing.T, st *stack), opts ...stackOption) {
	for _, gw := range gateways {
		t.Run(gw.name, func(t *testing.T) {
			f(t, newStack(t, gw, opts...))
		})
	}
}
