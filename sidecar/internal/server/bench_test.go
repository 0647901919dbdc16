package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/apikeys"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// static is a Source that never changes.
type static struct {
	keys  *Keys
	users *Users
}

func (s static) Keys() (*Keys, bool)    { return s.keys, true }
func (s static) Users() (*Users, bool)  { return s.users, true }
func (s static) Policy() *policy.Policy { return policy.Default() }

// activeRing is a ring of one active HS256 key, tokens lasting an hour.
func activeRing(tb testing.TB) *keyring.Ring {
	tb.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	k, err := keyring.Generate(jack.AlgorithmHS256, "k1")
	if err != nil {
		tb.Fatal(err)
	}
	k.State, k.PublishedAt, k.ActivatedAt = jack.KeyActive, now, now
	return &keyring.Ring{TokenTTL: time.Hour, Keys: []keyring.Key{k}}
}

// thousandUsers is a ring and a directory of 1,000 users, as a sidecar holds them.
func thousandUsers(tb testing.TB) (static, *keyring.Ring, *userdir.Directory) {
	ring := activeRing(tb)
	hash, _ := password.Hash("a password for all", password.Params{Memory: 64, Iterations: 1, Threads: 1})
	dir := &userdir.Directory{}
	for i := range 1000 {
		dir.Users = append(dir.Users, userdir.User{ID: fmt.Sprintf("staff-%d", i), Email: fmt.Sprintf("user%d@example.com", i),
			Name: "User", Role: jack.RoleStaff, PasswordHash: hash, PasswordVersion: "1"})
	}
	return static{keys: NewKeys(ring), users: NewUsers(dir)}, ring, dir
}

// BenchmarkForwardAuth serves /auth end to end in process (no network): the
// header parse, token verification, user lookup, revocation check, policy
// and the answer.
func BenchmarkForwardAuth(b *testing.B) {
	src, ring, dir := thousandUsers(b)
	revs, _ := revocation.Open("", time.Now())
	h, err := New(Config{Source: src, Revocations: revs})
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := token.Sign(ring, ring.Active(), subjectOf(dir.Users[500]), token.Session{}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/auth", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", "/api/v1/tasks/42")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkForwardAuthBadToken is the same with a forged signature: a flood
// of bad tokens must cost no more than good ones.
func BenchmarkForwardAuthBadToken(b *testing.B) {
	src, ring, dir := thousandUsers(b)
	revs, _ := revocation.Open("", time.Now())
	h, _ := New(Config{Source: src, Revocations: revs})
	tok, _, _ := token.Sign(ring, ring.Active(), subjectOf(dir.Users[500]), token.Session{}, time.Now())
	bad := []byte(tok)
	bad[len(bad)-2] ^= 1
	req := httptest.NewRequest(http.MethodGet, "/auth", nil)
	req.Header.Set("Authorization", "Bearer "+string(bad))
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", "/api/v1/tasks/42")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 401 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// thousandAPIKeys is a view of 1,000 keys, as a busy namespace holds them,
// and the value of one of them (a staff key).
func thousandAPIKeys(b *testing.B) (*keyView, string) {
	view := &keyView{}
	var specs []apikeys.Spec
	var chosen string
	for i := range 1000 {
		v, s := newKey(b, fmt.Sprintf("ak-%d", i), jack.RoleStaff)
		specs = append(specs, s)
		if i == 500 {
			chosen = v
		}
	}
	view.set(specs...)
	return view, chosen
}

// BenchmarkForwardAuthAPIKey is BenchmarkForwardAuth with an API key of
// 1,000 instead of a JWT: the format and checksum, the digest and lookup,
// the policy and the answer.
func BenchmarkForwardAuthAPIKey(b *testing.B) {
	src, _, _ := thousandUsers(b)
	view, value := thousandAPIKeys(b)
	revs, _ := revocation.Open("", time.Now())
	h, err := New(Config{Source: src, Revocations: revs, APIKeys: view})
	if err != nil {
		b.Fatal(err)
	}
	serveBench(b, h, "Bearer "+value, 200)
}

// BenchmarkForwardAuthAPIKeyBadChecksum is a flood of made-up keys: each is
// refused by its checksum, before any lookup; compare with
// BenchmarkForwardAuthBadToken, a flood of JWTs with a forged signature.
func BenchmarkForwardAuthAPIKeyBadChecksum(b *testing.B) {
	src, _, _ := thousandUsers(b)
	view, value := thousandAPIKeys(b)
	revs, _ := revocation.Open("", time.Now())
	h, _ := New(Config{Source: src, Revocations: revs, APIKeys: view})
	serveBench(b, h, "Bearer "+badChecksum(value), 401)
}

// BenchmarkForwardAuthAPIKeyUnknown is a flood of well-formed keys with a
// valid checksum that no JackAPIKey holds (anyone can make them): a digest
// and a lookup each.
func BenchmarkForwardAuthAPIKeyUnknown(b *testing.B) {
	src, _, _ := thousandUsers(b)
	view, _ := thousandAPIKeys(b)
	revs, _ := revocation.Open("", time.Now())
	h, _ := New(Config{Source: src, Revocations: revs, APIKeys: view})
	serveBench(b, h, "Bearer "+madeUp(b), 401)
}

func serveBench(b *testing.B, h http.Handler, auth string, want int) {
	req := httptest.NewRequest(http.MethodGet, "/auth", nil)
	req.Header.Set("Authorization", auth)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", "/api/v1/tasks/42")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
