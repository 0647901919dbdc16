package token

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// benchRing is three keys, as a ring holds during a rotation: the active
// HS256 key, the next one published, and the previous one retired.
func benchRing(b *testing.B) *keyring.Ring {
	f := fixture(b)
	r := *f
	r.Keys = []keyring.Key{*f.Find(kidHS512), *f.Find(kidLegacy), *f.Find(kidActive)}
	return &r
}

func benchVerify(b *testing.B, r *keyring.Ring, tok string, wantErr bool) {
	v := NewVerifier(r, Options{})
	if _, err := v.Verify(tok, t0); (err != nil) != wantErr {
		b.Fatalf("Verify = %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		v.Verify(tok, t0)
	}
}

// alice is a user as most are: nothing in her claims needs a JSON escape.
var alice = Subject{ID: "staff-123", Email: "alice@example.com", Name: "Alice Martin", Role: jack.RoleStaff}

func signFor(b *testing.B, r *keyring.Ring, u Subject) string {
	tok, _, err := Sign(r, r.Active(), u, Session{}, t0.Add(-time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func BenchmarkVerifyHS256(b *testing.B) {
	r := benchRing(b)
	benchVerify(b, r, signFor(b, r, alice), false)
}

// BenchmarkVerifyHS256EscapedName is a name with "<", ">" and "&", which
// json.Marshal escapes: its claim is decoded into a string of its own.
func BenchmarkVerifyHS256EscapedName(b *testing.B) {
	r := benchRing(b)
	benchVerify(b, r, signFor(b, r, bob), false)
}

func BenchmarkVerifyRS256(b *testing.B) {
	r := fixture(b)
	benchVerify(b, r, forge(b, hdr("RS256", kidRetired), claimsWith(nil), r.Find(kidRetired), "RS256"), false)
}

func BenchmarkVerifyES256(b *testing.B) {
	r := fixture(b)
	benchVerify(b, r, forge(b, hdr("ES256", kidPublished), claimsWith(nil), r.Find(kidPublished), "ES256"), false)
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	r := fixture(b)
	benchVerify(b, r, forge(b, hdr("EdDSA", kidEdDSA), claimsWith(nil), r.Find(kidEdDSA), "EdDSA"), false)
}

// BenchmarkVerifyBadSignature is a flood of forgeries: each must cost no more
// than a good token.
func BenchmarkVerifyBadSignature(b *testing.B) {
	r := benchRing(b)
	tok := signFor(b, r, alice)
	tok = tok[:len(tok)-10] + "AAAAAAAAAA"
	benchVerify(b, r, tok, true)
}

// BenchmarkVerifyLegacy is a token without kid, as Jack signed them before
// the operator.
func BenchmarkVerifyLegacy(b *testing.B) {
	r := benchRing(b)
	benchVerify(b, r, forge(b, hdr("HS256", ""), claimsWith(nil), r.Find(kidLegacy), "HS256"), false)
}

func BenchmarkSignHS256(b *testing.B) {
	r := benchRing(b)
	key := r.Active()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Sign(r, key, alice, Session{}, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGolangJWTParseHS256 is the baseline Verify is measured against:
// golang-jwt's parser, with the options the reference verifier uses.
func BenchmarkGolangJWTParseHS256(b *testing.B) {
	r := benchRing(b)
	tok := signFor(b, r, alice)
	key := r.Find(kidActive)
	p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithLeeway(DefaultLeeway),
		jwt.WithTimeFunc(func() time.Time { return t0 }), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithIssuer(r.Issuer), jwt.WithAudience(r.Audience))
	keyfunc := func(t *jwt.Token) (any, error) { return key.VerificationKey(), nil }
	if _, err := p.Parse(tok, keyfunc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(tok, keyfunc)
	}
}
