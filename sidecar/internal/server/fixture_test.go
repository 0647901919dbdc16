package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// team is a sidecar's state with one user of each role, and their tokens.
type team struct {
	src    static
	ring   *keyring.Ring
	tokens map[jack.Role]string
	ids    map[jack.Role]string
}

func newTeam(t testing.TB) *team {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	ring := activeRing(t)
	hash, err := password.Hash("a team password", password.Params{Memory: 64, Iterations: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	tm := &team{ring: ring, tokens: map[jack.Role]string{}, ids: map[jack.Role]string{}}
	dir := &userdir.Directory{}
	for _, role := range jack.Roles {
		u := userdir.User{ID: string(role) + "-1", Email: string(role) + "@example.com", Name: string(role),
			Role: role, PasswordHash: hash, PasswordVersion: "1"}
		dir.Users = append(dir.Users, u)
		tok, _, err := token.Sign(ring, ring.Active(), subjectOf(u), token.Session{}, now)
		if err != nil {
			t.Fatal(err)
		}
		tm.tokens[role], tm.ids[role] = tok, u.ID
	}
	tm.src = static{keys: NewKeys(ring), users: NewUsers(dir)}
	return tm
}

// seen is what the stand-in for Jack received.
type seen struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Header http.Header `json:"header"`
}

// upstream is a stand-in for Jack that records every request it gets.
func upstream(t testing.TB) (*url.URL, <-chan seen) {
	t.Helper()
	got := make(chan seen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone()}
		_ = json.NewEncoder(w).Encode(map[string]bool{"fromJack": true})
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u, got
}

// serve runs the whole chain on one request, as a client at addr.
func serve(t testing.TB, h http.Handler, r *http.Request, addr string) (*httptest.ResponseRecorder, envelope) {
	t.Helper()
	if addr != "" {
		r.RemoteAddr = addr
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var env envelope
	body, _ := io.ReadAll(w.Result().Body)
	if len(body) > 0 {
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("status %d: the body is not the JSON envelope: %q", w.Code, body)
		}
	}
	return w, env
}

type envelope struct {
	Success bool `json:"success"`
	Error   struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	FromJack bool `json:"fromJack"`
}

func newServer(t testing.TB, tm *team, cfg Config) http.Handler {
	t.Helper()
	revs, err := revocation.Open("", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Source, cfg.Revocations = tm.src, revs
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func request(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		name := http.CanonicalHeaderKey(headers[i]) // as Go's server stores it
		r.Header[name] = append(r.Header[name], headers[i+1])
	}
	return r
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

// httptestServer serves h on loopback and returns its URL.
func httptestServer(t testing.TB, h http.Handler) *url.URL {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}
