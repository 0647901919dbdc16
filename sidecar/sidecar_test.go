package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
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
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// These tests run the sidecar as a real process on loopback, reading key
// ring and user directory files laid out and swapped as the kubelet does.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jack-auth-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "jack-auth")
	// Stamped as a release is (internal/version), so that the tests see the
	// version everywhere the sidecar reports it (version_test.go).
	build := exec.Command("go", "build", "-ldflags", "-X "+versionVariable+"="+stampedVersion, "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the sidecar:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopCluster()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// cheap makes argon2id fast for tests; the sidecar verifies with whatever
// parameters a hash carries.
var cheap = password.Params{Memory: 64, Iterations: 1, Threads: 1}

type fixture struct {
	t     testing.TB
	ring  *keyring.Ring
	users *userdir.Directory
	keys  *kubelettest.Volume
	dir   *kubelettest.Volume
	pws   map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	k, err := keyring.Generate(jack.AlgorithmHS256, "k1")
	if err != nil {
		t.Fatal(err)
	}
	k.State, k.PublishedAt, k.ActivatedAt, k.MaxTokenTTL = jack.KeyActive, now, now, time.Hour
	f := &fixture{t: t, ring: &keyring.Ring{TokenTTL: time.Hour, Keys: []keyring.Key{k}}, users: &userdir.Directory{}, pws: map[string]string{}}
	for _, u := range []struct {
		id, email string
		role      jack.Role
	}{{"admin-1", "ada@example.com", "admin"}, {"manager-1", "max@example.com", "manager"}, {"staff-1", "sam@example.com", "staff"}} {
		pw := "password of " + u.id
		h, err := password.Hash(pw, cheap)
		if err != nil {
			t.Fatal(err)
		}
		f.pws[u.email] = pw
		f.users.Users = append(f.users.Users, userdir.User{ID: u.id, Email: u.email, Name: "Name of " + u.id, Role: u.role, PasswordHash: h, PasswordVersion: "1"})
	}
	root := t.TempDir()
	f.keys = kubelettest.NewVolume(t, filepath.Join(root, "keys"), map[string][]byte{jack.SecretKeyKeyRing: f.ringBytes()})
	f.dir = kubelettest.NewVolume(t, filepath.Join(root, "users"), map[string][]byte{jack.SecretKeyUserDirectory: f.userBytes()})
	return f
}

func (f *fixture) ringBytes() []byte {
	b, err := f.ring.Marshal()
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) userBytes() []byte {
	b, err := f.users.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) updateUser(id string, change func(*userdir.User)) {
	for i := range f.users.Users {
		if f.users.Users[i].ID == id {
			change(&f.users.Users[i])
		}
	}
	f.dir.Update(map[string][]byte{jack.SecretKeyUserDirectory: f.userBytes()})
}

// sign makes a token as the sidecar would at time at.
func (f *fixture) sign(id string, at time.Time) string {
	ix := f.users.Index()
	u, ok := ix.ByID(id)
	if !ok {
		f.t.Fatalf("no user %s", id)
	}
	tok, _, err := token.Sign(f.ring, f.ring.Active(), token.Subject{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role}, token.Session{}, at)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

type sidecar struct {
	t         testing.TB
	cmd       *exec.Cmd
	addr, ops string
	mu        sync.Mutex
	logs      bytes.Buffer
}

func (f *fixture) start(extra ...string) *sidecar {
	f.t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--keys", f.keys.Path(jack.SecretKeyKeyRing), "--users", f.dir.Path(jack.SecretKeyUserDirectory)}, extra...)
	s := &sidecar{t: f.t, cmd: exec.Command(binary, args...)}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	serving := make(chan struct{ addr, ops string }, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.logs.WriteString(line + "\n")
			s.mu.Unlock()
			var l struct{ Msg, Listen, Metrics string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" {
				serving <- struct{ addr, ops string }{l.Listen, l.Metrics}
			}
		}
	}()
	select {
	case a := <-serving:
		s.addr, s.ops = "http://"+a.addr, "http://"+a.ops
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		f.t.Fatalf("the sidecar did not start serving; its log:\n%s", s.logText())
	}
	f.t.Cleanup(s.stop)
	s.waitReady()
	return s
}

func (s *sidecar) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

func (s *sidecar) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		s.t.Errorf("the sidecar did not stop within 15s of SIGTERM")
	}
}

func (s *sidecar) waitReady() {
	s.t.Helper()
	poll.Until(s.t, 15*time.Second, "the sidecar becomes ready", func() error {
		resp, err := http.Get(s.ops + "/readyz")
		if err != nil {
			return fmt.Errorf("%w; its log:\n%s", err, s.logText())
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answers %d; its log:\n%s", resp.StatusCode, s.logText())
		}
		return nil
	})
}

// response is a decoded answer in the envelope.
type response struct {
	Status int
	Header http.Header
	Body   struct {
		Success bool `json:"success"`
		Data    struct {
			Token     string `json:"token"`
			ExpiresAt string `json:"expiresAt"`
			User      struct {
				ID, Name, Email, Role string
			} `json:"user"`
		} `json:"data"`
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	Raw string
}

func (s *sidecar) do(method, path string, headers map[string]string, body string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.addr+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

func (s *sidecar) login(email, pw string) response {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	return s.do("POST", "/api/v1/auth/login", map[string]string{"Content-Type": "application/json"}, string(body))
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Body.Success || r.Body.Error.Code != code || r.Body.Error.Message == "" {
		t.Fatalf("got %d %s, want %d with error code %s", r.Status, r.Raw, status, code)
	}
}

func TestLoginAnswersInJacksEnvelope(t *testing.T) {
	f := newFixture(t)
	s := f.start()
	r := s.login("SAM@example.com", f.pws["sam@example.com"])
	if r.Status != 200 || !r.Body.Success || r.Body.Data.Token == "" {
		t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	u := r.Body.Data.User
	if u.ID != "staff-1" || u.Email != "sam@example.com" || u.Role != "staff" || u.Name != "Name of staff-1" {
		t.Errorf("user = %+v", u)
	}
	exp, err := time.Parse(time.RFC3339, r.Body.Data.ExpiresAt)
	if err != nil || !strings.HasSuffix(r.Body.Data.ExpiresAt, "Z") || exp.Sub(time.Now()) < 59*time.Minute {
		t.Errorf("expiresAt = %q, want RFC 3339 UTC an hour from now", r.Body.Data.ExpiresAt)
	}
	if got := s.do("GET", "/auth", mergeHeaders(bearer(r.Body.Data.Token), map[string]string{"X-Original-URI": "/api/v1/tasks", "X-Original-Method": "GET"}), ""); got.Status != 200 {
		t.Errorf("the new token was refused: %d %s", got.Status, got.Raw)
	}
}

func mergeHeaders(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestEveryBadRequestGetsTheEnvelope(t *testing.T) {
	f := newFixture(t)
	s := f.start()
	json := map[string]string{"Content-Type": "application/json"}
	cases := map[string]struct {
		method, path string
		headers      map[string]string
		body         string
		status       int
		code         string
	}{
		"a wrong password":              {"POST", "/api/v1/auth/login", json, `{"email":"sam@example.com","password":"nope nope nope"}`, 401, "INVALID_CREDENTIALS"},
		"an unknown email":              {"POST", "/api/v1/auth/login", json, `{"email":"nobody@example.com","password":"nope nope nope"}`, 401, "INVALID_CREDENTIALS"},
		"not JSON":                      {"POST", "/api/v1/auth/login", json, `{"email":`, 400, "BAD_REQUEST"},
		"a number for a string":         {"POST", "/api/v1/auth/login", json, `{"email":1,"password":"x"}`, 400, "BAD_REQUEST"},
		"two objects":                   {"POST", "/api/v1/auth/login", json, `{"email":"a@b.c","password":"x"}{}`, 400, "BAD_REQUEST"},
		"no password":                   {"POST", "/api/v1/auth/login", json, `{"email":"sam@example.com"}`, 400, "VALIDATION_ERROR"},
		"an empty body":                 {"POST", "/api/v1/auth/login", json, ``, 400, "BAD_REQUEST"},
		"a body over the limit":         {"POST", "/api/v1/auth/login", json, `{"email":"` + strings.Repeat("a", 5000) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		"form data":                     {"POST", "/api/v1/auth/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `email=a`, 415, "UNSUPPORTED_MEDIA_TYPE"},
		"GET on login":                  {"GET", "/api/v1/auth/login", nil, ``, 405, "METHOD_NOT_ALLOWED"},
		"an unknown auth endpoint":      {"POST", "/api/v1/auth/register", json, `{}`, 404, "NOT_FOUND"},
		"refresh without a token":       {"POST", "/api/v1/auth/refresh", nil, ``, 401, "TOKEN_MISSING"},
		"logout with a Basic header":    {"POST", "/api/v1/auth/logout", map[string]string{"Authorization": "Basic YTpi"}, ``, 401, "TOKEN_INVALID"},
		"refresh with garbage":          {"POST", "/api/v1/auth/refresh", bearer("garbage"), ``, 401, "TOKEN_INVALID"},
		"forward auth without a URI":    {"GET", "/auth", bearer("x"), ``, 400, "BAD_REQUEST"},
		"the proxy without an upstream": {"GET", "/api/v1/tasks", nil, ``, 404, "NOT_FOUND"},
		"a page without an upstream":    {"GET", "/index.html", nil, ``, 404, "NOT_FOUND"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tc.headers, tc.body)
			wantError(t, r, tc.status, tc.code)
			if tc.status == 405 && r.Header.Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
		})
	}
	// A wrong password and an unknown email read exactly the same.
	a := s.do("POST", "/api/v1/auth/login", json, `{"email":"sam@example.com","password":"nope nope nope"}`)
	b := s.do("POST", "/api/v1/auth/login", json, `{"email":"nobody@example.com","password":"nope nope nope"}`)
	if a.Raw != b.Raw {
		t.Errorf("an unknown email and a wrong password answer differently:\n%s\n%s", a.Raw, b.Raw)
	}
}

func TestRepeatedFailuresAreThrottledPerAccount(t *testing.T) {
	f := newFixture(t)
	s := f.start()
	var last response
	for range 6 {
		last = s.login("max@example.com", "wrong password!")
	}
	wantError(t, last, 429, "TOO_MANY_REQUESTS")
	if last.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Even the right password waits now: a guesser cannot tell it worked.
	wantError(t, s.login("max@example.com", f.pws["max@example.com"]), 429, "TOO_MANY_REQUESTS")
	// Other accounts are not affected.
	if r := s.login("ada@example.com", f.pws["ada@example.com"]); r.Status != 200 {
		t.Errorf("another account was throttled: %d", r.Status)
	}
}

func TestRefreshAndLogout(t *testing.T) {
	f := newFixture(t)
	revocations := filepath.Join(t.TempDir(), "revoked.jsonl")
	s := f.start("--revocations", revocations)
	first := s.login("ada@example.com", f.pws["ada@example.com"])
	other := s.login("ada@example.com", f.pws["ada@example.com"])
	time.Sleep(1100 * time.Millisecond) // so the refreshed token expires a second later
	refreshed := s.do("POST", "/api/v1/auth/refresh", bearer(first.Body.Data.Token), "")
	if refreshed.Status != 200 || refreshed.Body.Data.Token == first.Body.Data.Token || refreshed.Body.Data.ExpiresAt <= first.Body.Data.ExpiresAt {
		t.Fatalf("refresh: %d %s (first expired at %s)", refreshed.Status, refreshed.Raw, first.Body.Data.ExpiresAt)
	}
	out := s.do("POST", "/api/v1/auth/logout", bearer(refreshed.Body.Data.Token), "")
	if out.Status != 200 || !out.Body.Success {
		t.Fatalf("logout: %d %s", out.Status, out.Raw)
	}
	wantError(t, s.do("POST", "/api/v1/auth/refresh", bearer(refreshed.Body.Data.Token), ""), 401, "TOKEN_INVALID")

	// The logout ended the session: the token it was refreshed from too.
	wantError(t, s.do("POST", "/api/v1/auth/refresh", bearer(first.Body.Data.Token), ""), 401, "TOKEN_INVALID")

	// A restart keeps the logout.
	s.stop()
	again := f.start("--revocations", revocations)
	for _, tok := range []string{first.Body.Data.Token, refreshed.Body.Data.Token} {
		wantError(t, again.do("POST", "/api/v1/auth/refresh", bearer(tok), ""), 401, "TOKEN_INVALID")
	}
	if r := again.do("POST", "/api/v1/auth/refresh", bearer(other.Body.Data.Token), ""); r.Status != 200 {
		t.Errorf("the session that was not logged out was refused after the restart: %d %s", r.Status, r.Raw)
	}
}

func TestForwardAuthInEveryDialect(t *testing.T) {
	f := newFixture(t)
	s := f.start()
	staff := f.sign("staff-1", time.Now())
	cases := map[string]struct {
		path    string
		headers map[string]string
		status  int
		code    string
	}{
		"nginx, allowed":               {"/auth", map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/api/v1/tasks?mine=1"}, 200, ""},
		"nginx with a full URL":        {"/auth", map[string]string{"X-Original-Method": "POST", "X-Original-URL": "https://jack.example.com/api/v1/conversations/7"}, 200, ""},
		"nginx, forbidden":             {"/auth", map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/api/v1/settings"}, 403, "FORBIDDEN"},
		"traefik, allowed":             {"/auth", map[string]string{"X-Forwarded-Method": "PATCH", "X-Forwarded-Uri": "/api/v1/tasks/9"}, 200, ""},
		"traefik, forbidden":           {"/auth", map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/api/v1/reports"}, 403, "FORBIDDEN"},
		"envoy, allowed":               {"/auth/api/v1/tasks/9", nil, 200, ""},
		"envoy, forbidden":             {"/auth/api/v1/users", nil, 403, "FORBIDDEN"},
		"a traversal attempt":          {"/auth", map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/api/v1/tasks/../settings"}, 400, "BAD_REQUEST"},
		"an encoded traversal attempt": {"/auth", map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/api/v1/tasks/..%2Fsettings"}, 400, "BAD_REQUEST"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := s.do("GET", tc.path, mergeHeaders(bearer(staff), tc.headers), "")
			if tc.status != 200 {
				wantError(t, r, tc.status, tc.code)
				return
			}
			if r.Status != 200 {
				t.Fatalf("got %d %s", r.Status, r.Raw)
			}
			want := map[string]string{
				jack.HeaderUserID: "staff-1", jack.HeaderUserEmail: "sam@example.com", jack.HeaderUserRole: "staff",
				jack.HeaderAuthRequestUser: "staff-1", jack.HeaderAuthRequestEmail: "sam@example.com",
			}
			for h, v := range want {
				if got := r.Header.Get(h); got != v {
					t.Errorf("%s = %q, want %q", h, got, v)
				}
			}
		})
	}
	// The auth API is the sidecar's own: a gateway must route it there,
	// never ask /auth about it and send it to Jack.
	wantError(t, s.do("GET", "/auth", map[string]string{"X-Original-Method": "POST", "X-Original-URI": "/api/v1/auth/login"}, ""),
		http.StatusMisdirectedRequest, "MISDIRECTED_REQUEST")
	// A forged identity header would reach Jack beside the gateway's copies.
	wantError(t, s.do("GET", "/auth", mergeHeaders(bearer(staff), map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/api/v1/tasks", jack.HeaderUserRole: "admin"}), ""),
		http.StatusBadRequest, "FORGED_IDENTITY")
}

func TestTheProxyForwardsVerifiedIdentityAndNothingForged(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	jackApp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		_, _ = fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	defer jackApp.Close()
	f := newFixture(t)
	s := f.start("--upstream", jackApp.URL)
	forged := map[string]string{jack.HeaderUserID: "admin-1", jack.HeaderUserRole: "admin", jack.HeaderAuthRequestUser: "admin-1"}

	r := s.do("GET", "/api/v1/tasks/3", mergeHeaders(bearer(f.sign("staff-1", time.Now())), forged), "")
	if r.Status != 200 || !strings.Contains(r.Raw, "/api/v1/tasks/3") {
		t.Fatalf("proxied request: %d %s", r.Status, r.Raw)
	}
	wantError(t, s.do("GET", "/api/v1/settings", bearer(f.sign("staff-1", time.Now())), ""), 403, "FORBIDDEN")
	wantError(t, s.do("GET", "/api/v1/tasks", forged, ""), 401, "TOKEN_MISSING")
	if r := s.do("GET", "/index.html", forged, ""); r.Status != 200 {
		t.Fatalf("the web app outside the API: %d", r.Status)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("Jack saw %d requests, want the 2 that were allowed", len(seen))
	}
	if got := seen[0].Get(jack.HeaderUserID) + "/" + seen[0].Get(jack.HeaderUserRole); got != "staff-1/staff" {
		t.Errorf("Jack saw identity %s, want staff-1/staff", got)
	}
	if got := seen[0].Values(jack.HeaderUserID); len(got) != 1 {
		t.Errorf("Jack saw %d X-Jack-User-Id values; the forged one must be gone", len(got))
	}
	for _, h := range jack.IdentityHeaders {
		if v := seen[1].Get(h); v != "" {
			t.Errorf("a forged %s reached Jack outside the API: %q", h, v)
		}
	}
}

// TestBadTokens is the corpus of tokens the sidecar must refuse.
func TestBadTokens(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	good := f.sign("manager-1", now)
	parts := strings.Split(good, ".")
	other, _ := keyring.Generate(jack.AlgorithmHS256, "k1")
	other.State = jack.KeyActive
	forger := &keyring.Ring{TokenTTL: time.Hour, Keys: []keyring.Key{other}}
	forged, _, _ := token.Sign(forger, forger.Active(), token.Subject{ID: "admin-1", Email: "ada@example.com", Role: "admin"}, token.Session{}, now)
	unknown := *forger
	unknown.Keys = []keyring.Key{other}
	unknown.Keys[0].ID = "k-unknown"
	wrongKid, _, _ := token.Sign(&unknown, unknown.Active(), token.Subject{ID: "manager-1", Email: "max@example.com", Role: "manager"}, token.Session{}, now)
	none := b64(`{"alg":"none","typ":"JWT","kid":"k1"}`) + "." + parts[1] + "."
	expired := f.sign("manager-1", now.Add(-2*time.Hour))
	future := f.sign("manager-1", now.Add(time.Hour))
	s := f.start()

	cases := map[string]struct {
		token string
		code  string
	}{
		"alg none":                   {none, "TOKEN_INVALID"},
		"signed with another key":    {forged, "TOKEN_INVALID"},
		"an unknown kid":             {wrongKid, "TOKEN_INVALID"},
		"a tampered payload":         {parts[0] + "." + b64(`{"sub":"admin-1","role":"admin"}`) + "." + parts[2], "TOKEN_INVALID"},
		"a tampered signature":       {parts[0] + "." + parts[1] + "." + flip(parts[2]), "TOKEN_INVALID"},
		"a missing signature":        {parts[0] + "." + parts[1], "TOKEN_INVALID"},
		"expired":                    {expired, "TOKEN_EXPIRED"},
		"not yet valid":              {future, "TOKEN_INVALID"},
		"a token in the wrong place": {"", "TOKEN_MISSING"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/api/v1/tasks"}
			if tc.token != "" {
				h = mergeHeaders(h, bearer(tc.token))
			}
			r := s.do("GET", "/auth?token="+good, h, "")
			wantError(t, r, 401, tc.code)
			if tc.code == "TOKEN_EXPIRED" && r.Body.Error.Message != "Your session has expired. Please login again." {
				t.Errorf("TOKEN_EXPIRED message = %q", r.Body.Error.Message)
			}
		})
	}

	// The user's state counts at every request.
	check := func(tok string) response {
		return s.do("GET", "/auth", mergeHeaders(bearer(tok), map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/api/v1/guests"}), "")
	}
	if r := check(good); r.Status != 200 {
		t.Fatalf("the good token was refused: %s", r.Raw)
	}
	f.updateUser("manager-1", func(u *userdir.User) { u.Role = jack.RoleStaff })
	poll.True(t, 15*time.Second, "a demotion to staff to forbid guests", func() bool { return check(good).Status == 403 })
	f.updateUser("manager-1", func(u *userdir.User) { u.Role = jack.RoleManager; u.SessionsValidAfter = now.Add(time.Second) })
	poll.True(t, 15*time.Second, "a password change to end the session", func() bool { return check(good).Body.Error.Code == "TOKEN_EXPIRED" })
	f.updateUser("manager-1", func(u *userdir.User) { u.SessionsValidAfter = time.Time{}; u.Disabled = true })
	poll.True(t, 15*time.Second, "a disabled user to be refused", func() bool { return check(good).Body.Error.Code == "TOKEN_INVALID" })
}

func b64(s string) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(base64Std(s)), "=")
}

func flip(sig string) string {
	b := []byte(sig)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// TestKeysSwappedDuringTrafficFailNoRequest rotates the key ring 30 times
// the way the kubelet swaps a Secret while clients verify tokens signed by
// the first key: not one request may fail.
func TestKeysSwappedDuringTrafficFailNoRequest(t *testing.T) {
	f := newFixture(t)
	s := f.start()
	tok := f.sign("staff-1", time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures, total := 0, 0
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequest("GET", s.addr+"/auth/api/v1/tasks", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				mu.Lock()
				total++
				if err != nil || resp.StatusCode != 200 {
					failures++
				}
				mu.Unlock()
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			}
		})
	}
	for i := range 30 {
		k, err := keyring.Generate(jack.AlgorithmHS256, fmt.Sprintf("k%d", i+2))
		if err != nil {
			t.Fatal(err)
		}
		k.State, k.PublishedAt = jack.KeyPublished, time.Now().UTC().Truncate(time.Second)
		f.ring.Keys = append(f.ring.Keys, k)
		f.keys.Update(map[string][]byte{jack.SecretKeyKeyRing: f.ringBytes()})
		time.Sleep(30 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if failures != 0 || total < 100 {
		t.Fatalf("%d of %d requests failed during 30 key ring swaps", failures, total)
	}
	t.Logf("%d requests, none failed, during 30 swaps", total)
}

func TestReadyzWaitsForKeysAndUsers(t *testing.T) {
	f := newFixture(t)
	root := t.TempDir()
	emptyKeys := kubelettest.NewVolume(t, filepath.Join(root, "k"), map[string][]byte{"other": []byte("x")})
	f.keys = emptyKeys
	args := []string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--keys", emptyKeys.Path(jack.SecretKeyKeyRing), "--users", f.dir.Path(jack.SecretKeyUserDirectory)}
	cmd := exec.Command(binary, args...)
	logs := &testenv.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var ops string
	poll.True(t, 15*time.Second, "the sidecar to serve", func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			var l struct{ Msg, Metrics string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" {
				ops = "http://" + l.Metrics
				return true
			}
		}
		return false
	})
	resp, err := http.Get(ops + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("/readyz without keys = %d, want 503", resp.StatusCode)
	}
	emptyKeys.Update(map[string][]byte{jack.SecretKeyKeyRing: f.ringBytes()})
	poll.True(t, 15*time.Second, "/readyz once the keys arrived", func() bool {
		r, err := http.Get(ops + "/readyz")
		if err != nil {
			return false
		}
		_ = r.Body.Close()
		return r.StatusCode == 200
	})
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestThePolicyIsReloadedWithoutARestart(t *testing.T) {
	f := newFixture(t)
	strict := "version: policy.auth.jack.io/v1\nrules:\n  - roles: [staff]\n    methods: [GET]\n    paths: [\"/api/v1/tasks/**\"]\n"
	vol := kubelettest.NewVolume(t, filepath.Join(t.TempDir(), "policy"), map[string][]byte{jack.ConfigMapKeyPolicy: []byte(strict)})
	s := f.start("--policy", vol.Path(jack.ConfigMapKeyPolicy))
	staff := bearer(f.sign("staff-1", time.Now()))
	ask := func(method, uri string) int {
		return s.do("GET", "/auth", mergeHeaders(staff, map[string]string{"X-Original-Method": method, "X-Original-URI": uri}), "").Status
	}
	if ask("GET", "/api/v1/tasks/1") != 200 || ask("POST", "/api/v1/tasks") != 403 || ask("GET", "/api/v1/guests") != 403 {
		t.Fatal("the mounted policy is not the one applied")
	}
	vol.Update(map[string][]byte{jack.ConfigMapKeyPolicy: []byte(strict + "  - roles: [staff]\n    methods: [\"*\"]\n    paths: [\"/api/v1/guests/**\"]\n")})
	poll.True(t, 15*time.Second, "the new policy to allow staff guests", func() bool { return ask("POST", "/api/v1/guests") == 200 })
	// A broken policy keeps the last good one.
	vol.Update(map[string][]byte{jack.ConfigMapKeyPolicy: []byte("version: nope\n")})
	time.Sleep(500 * time.Millisecond)
	if ask("POST", "/api/v1/guests") != 200 || ask("POST", "/api/v1/tasks") != 403 {
		t.Fatal("a broken policy file changed what is allowed")
	}
	resp, err := http.Get(s.ops + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), `"policy"`) || !strings.Contains(string(body), "lastError") {
		t.Errorf("/readyz does not report the broken policy: %s", body)
	}
}

func TestTheMainPortServesTLSWhenGivenACertificate(t *testing.T) {
	f := newFixture(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jack-auth"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	s := f.start("--tls-cert", certFile, "--tls-key", keyFile)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := `{"email":"ada@example.com","password":"` + f.pws["ada@example.com"] + `"}`
	resp, err := client.Post(strings.Replace(s.addr, "http://", "https://", 1)+"/api/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("login over TLS: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("login over TLS: %d (TLS %v)", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP gets Go's TLS server's 400, never a login.
	if plain, err := http.Post(s.addr+"/api/v1/auth/login", "application/json", strings.NewReader(body)); err == nil {
		_ = plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Error("the main port also logged in over plain HTTP")
		}
	}
}

func TestALoginWhoseBodyNeverComesIsCutOffWithTheEnvelope(t *testing.T) {
	f := newFixture(t)
	s := f.start("--body-timeout", "1s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	// The headers promise a body; one byte of it comes, then nothing.
	_, _ = fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: jack\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{")
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"REQUEST_TIMEOUT"`) {
		t.Errorf("got %d %s, want 408 REQUEST_TIMEOUT", resp.StatusCode, body)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the answer took %s; the body deadline is 1s", took)
	}
}

func TestARefusalOfARequestWhoseBodyNeverComesIsAnsweredAtOnce(t *testing.T) {
	f := newFixture(t)
	s := f.start()
	for _, target := range []string{"/auth/api/v1/tasks", "/api/v1/auth/logout", "/api/v1/auth/register"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.addr, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		// No token: refused before anything would read the promised body.
		_, _ = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: jack\r\nContent-Length: 4096\r\n\r\n", target)
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		start := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		took := time.Since(start)
		_ = conn.Close()
		if err != nil {
			t.Fatalf("%s: no answer after %s: %v", target, took.Round(time.Millisecond), err)
		}
		if resp.StatusCode < 400 || !resp.Close || took > 3*time.Second {
			t.Errorf("%s: %d (closing %v) after %s; want a refusal at once, closing the connection",
				target, resp.StatusCode, resp.Close, took.Round(time.Millisecond))
		}
	}
}
