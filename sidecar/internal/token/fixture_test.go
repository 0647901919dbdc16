package token

import (
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// The fixed ring that the corpus, the fuzzers and the benchmarks share. It is
// a file rather than keys generated at each run so that a failing fuzz input
// saved under testdata/fuzz stays a failing input. The keys in it are test
// keys and guard nothing.
var updateFixture = flag.Bool("update-fixture", false, "write testdata/ring.json with new keys")

const fixturePath = "testdata/ring.json"

// t0 is when the corpus and the fuzzers verify, and what the fixture's key
// lives are relative to.
var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

// The fixture's keys: one of each kind a ring holds.
const (
	kidActive    = "hs-active"    // HS256, signs
	kidPublished = "es-published" // ES256, verifies ahead of signing
	kidHS512     = "hs512-published"
	kidRetired   = "rs-retired" // RS256, verifies until t0+48h
	kidEdDSA     = "ed-retired" // EdDSA, verifies until t0+48h
	kidGone      = "hs-expired" // HS256, retired, stopped verifying at t0-1h
	kidLegacy    = "legacy"     // HS256, legacy: verifies tokens without kid until t0+24h
)

func writeFixture(t *testing.T) {
	type spec struct {
		id      string
		alg     jack.Algorithm
		state   jack.KeyState
		expires time.Time
	}
	r := &keyring.Ring{TokenTTL: 24 * time.Hour, Issuer: "https://jack.example.com", Audience: "jack"}
	for _, s := range []spec{
		{kidActive, "HS256", jack.KeyActive, time.Time{}},
		{kidPublished, "ES256", jack.KeyPublished, time.Time{}},
		{kidHS512, "HS512", jack.KeyPublished, time.Time{}},
		{kidRetired, "RS256", jack.KeyRetired, t0.Add(48 * time.Hour)},
		{kidEdDSA, "EdDSA", jack.KeyRetired, t0.Add(48 * time.Hour)},
		{kidGone, "HS256", jack.KeyRetired, t0.Add(-time.Hour)},
	} {
		k, err := keyring.Generate(s.alg, s.id)
		if err != nil {
			t.Fatal(err)
		}
		k.State, k.PublishedAt, k.ExpiresAt, k.MaxTokenTTL = s.state, t0.Add(-72*time.Hour), s.expires, 24*time.Hour
		r.Keys = append(r.Keys, k)
	}
	legacy, err := keyring.ImportHMAC("HS256", kidLegacy, []byte("a JWT_SECRET that Jack once had"))
	if err != nil {
		t.Fatal(err)
	}
	legacy.State, legacy.ExpiresAt = jack.KeyRetired, t0.Add(24*time.Hour)
	r.Keys = append(r.Keys, legacy)
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(fixturePath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixturePath, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	fixtureOnce sync.Once
	fixtureRing *keyring.Ring
	fixtureErr  error
)

// fixture is the shared ring, with issuer and audience.
func fixture(t testing.TB) *keyring.Ring {
	t.Helper()
	fixtureOnce.Do(func() {
		data, err := os.ReadFile(fixturePath)
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureRing, fixtureErr = keyring.Parse(data)
	})
	if fixtureErr != nil {
		t.Fatalf("reading the fixture ring (make it with go test -run TestFixture -update-fixture): %v", fixtureErr)
	}
	return fixtureRing
}

// withoutIssuer is the fixture ring setting neither issuer nor audience.
func withoutIssuer(r *keyring.Ring) *keyring.Ring {
	c := *r
	c.Issuer, c.Audience = "", ""
	return &c
}

func TestFixture(t *testing.T) {
	if *updateFixture {
		writeFixture(t)
	}
	r := fixture(t)
	for _, kid := range []string{kidActive, kidPublished, kidHS512, kidRetired, kidEdDSA, kidGone, kidLegacy} {
		if r.Find(kid) == nil {
			t.Errorf("the fixture ring has no key %q", kid)
		}
	}
	if r.Active() == nil || r.Active().ID != kidActive || !r.Find(kidLegacy).Legacy {
		t.Errorf("the fixture ring's active or legacy key is not the expected one")
	}
}

var b64 = base64.RawURLEncoding

// forge makes a token of the given header and claims JSON, signed by key
// with alg through golang-jwt: the way any other JWT library would make it.
func forge(t testing.TB, header, claims string, key *keyring.Key, alg string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
	return input + "." + signInput(t, input, key, alg)
}

// signInput is the signature segment over input.
func signInput(t testing.TB, input string, key *keyring.Key, alg string) string {
	t.Helper()
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		t.Fatalf("no signing method %q", alg)
	}
	sig, err := m.Sign(input, key.SigningKey())
	if err != nil {
		t.Fatalf("signing with %s: %v", key.ID, err)
	}
	return b64.EncodeToString(sig)
}
