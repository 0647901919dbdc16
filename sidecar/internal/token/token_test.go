package token

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

var bob = Subject{ID: "staff-123", Email: "bob@example.com", Name: "Bob <Ops> & Co", Role: jack.RoleStaff}

func TestEveryAlgorithmSignsTokensItVerifies(t *testing.T) {
	for _, alg := range []jack.Algorithm{"HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"} {
		t.Run(string(alg), func(t *testing.T) {
			k, err := keyring.Generate(alg, "k-"+string(alg))
			if err != nil {
				t.Fatal(err)
			}
			k.State = jack.KeyActive
			ring := &keyring.Ring{TokenTTL: 24 * time.Hour, Issuer: "https://jack.example.com", Audience: "jack", Keys: []keyring.Key{k}}
			signedAt := t0.Add(1500 * time.Millisecond)
			tok, signed, err := Sign(ring, ring.Active(), bob, Session{}, signedAt)
			if err != nil {
				t.Fatal(err)
			}
			want := Claims{
				Subject: "staff-123", Email: "bob@example.com", Name: "Bob <Ops> & Co", Role: "staff",
				IssuedAt: t0.Add(time.Second), NotBefore: t0.Add(time.Second), ExpiresAt: t0.Add(24*time.Hour + time.Second),
				ID: signed.ID, Issuer: "https://jack.example.com", Audience: "jack",
				SessionID: signed.SessionID, AuthTime: t0.Add(time.Second), SessionGeneration: 0, KeyID: k.ID,
			}
			if signed != want {
				t.Errorf("Sign returned claims\n%+v, want\n%+v", signed, want)
			}
			for claim, id := range map[string]string{"jti": signed.ID, "sid": signed.SessionID} {
				if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 16 {
					t.Errorf("%s %q is not 128 bits of base64url", claim, id)
				}
			}
			if signed.SessionID == signed.ID {
				t.Errorf("the session id is the token id")
			}
			hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			if wantHdr := fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, alg, k.ID); string(hdr) != wantHdr {
				t.Errorf("header = %s, want %s", hdr, wantHdr)
			}

			got, err := NewVerifier(ring, Options{}).Verify(tok, signedAt.Add(time.Hour))
			if err != nil {
				t.Fatalf("Verify refuses a token Sign made: %v", err)
			}
			if got != signed {
				t.Errorf("Verify returned\n%+v, Sign signed\n%+v", got, signed)
			}
		})
	}
}

func TestSignLeavesOutTheIssuerAndAudienceARingDoesNotSet(t *testing.T) {
	ring := withoutIssuer(fixture(t))
	tok, c, err := Sign(ring, ring.Active(), bob, Session{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["iss"]; ok {
		t.Errorf("claims %s carry iss", payload)
	}
	if _, ok := m["aud"]; ok {
		t.Errorf("claims %s carry aud", payload)
	}
	if c.Issuer != "" || c.Audience != "" {
		t.Errorf("Sign returned issuer %q and audience %q", c.Issuer, c.Audience)
	}
	if m["exp"].(float64)-m["iat"].(float64) != 86400 {
		t.Errorf("lifetime is not the ring's TokenTTL: %s", payload)
	}
}

func TestSignRefuses(t *testing.T) {
	f := fixture(t)
	const sid = "AAAAAAAAAAAAAAAAAAAAAA"
	cases := map[string]struct {
		ring    *keyring.Ring
		key     *keyring.Key
		user    Subject
		session Session
		want    string
	}{
		"without a ring":       {nil, f.Active(), bob, Session{}, "no key ring"},
		"without a key":        {f, nil, bob, Session{}, "no key may sign"},
		"with a retired key":   {f, f.Find(kidRetired), bob, Session{}, "a Retired key does not sign"},
		"with a legacy key":    {f, f.Find(kidLegacy), bob, Session{}, "a legacy Retired key does not sign"},
		"a user without an id": {f, f.Active(), Subject{Email: "x@example.com"}, Session{}, "no id"},

		"a session id Verify would refuse":          {f, f.Active(), bob, Session{ID: "a b", AuthTime: t0}, "not 1 to 128 printable ASCII"},
		"a session id of 129 characters":            {f, f.Active(), bob, Session{ID: strings.Repeat("a", 129), AuthTime: t0}, "not 1 to 128 printable ASCII"},
		"a session that continues without its time": {f, f.Active(), bob, Session{ID: sid, Generation: 1}, "needs the time of its login"},
		"a new session past generation 0":           {f, f.Active(), bob, Session{Generation: 1}, "starts at generation 0"},
		"a negative generation":                     {f, f.Active(), bob, Session{ID: sid, AuthTime: t0, Generation: -1}, "is not from 0"},
		"a generation past the largest":             {f, f.Active(), bob, Session{ID: sid, AuthTime: t0, Generation: MaxSessionGeneration + 1}, "is not from 0"},
		"a login after the token's issue":           {f, f.Active(), bob, Session{ID: sid, AuthTime: t0.Add(time.Second)}, "after the token's issue time"},
		"a login at the Unix epoch":                 {f, f.Active(), bob, Session{ID: sid, AuthTime: time.Unix(0, 0)}, "not after 1970"},
		"a session past its lifetime":               {f, f.Active(), bob, Session{ID: sid, AuthTime: t0.Add(-jack.DefaultSessionLifetime)}, ErrSessionOver.Error()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tok, _, err := Sign(tc.ring, tc.key, tc.user, tc.session, t0)
			if err == nil || !strings.Contains(err.Error(), tc.want) || tok != "" {
				t.Fatalf("Sign = %q, %v; want an error saying %q", tok, err, tc.want)
			}
			if strings.Contains(err.Error(), sid) {
				t.Errorf("error %q quotes the session id", err)
			}
		})
	}
}

func TestSignSignsWithThePublishedKeyItIsGiven(t *testing.T) {
	f := fixture(t)
	tok, signed, err := Sign(f, f.Find(kidPublished), bob, Session{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if want := fmt.Sprintf(`{"alg":"ES256","kid":%q,"typ":"JWT"}`, kidPublished); string(hdr) != want {
		t.Errorf("header = %s, want %s", hdr, want)
	}
	got, err := NewVerifier(f, Options{}).Verify(tok, t0)
	if err != nil || got != signed || got.KeyID != kidPublished {
		t.Errorf("Verify = %+v, %v; want the signed claims, key %s", got, err, kidPublished)
	}
}

func TestVerifyNamesTheLegacyKeyThatVerifiedATokenWithoutKid(t *testing.T) {
	f := fixture(t)
	tok := forge(t, hdr("HS256", ""), claimsWith(nil), f.Find(kidLegacy), "HS256")
	got, err := NewVerifier(f, Options{}).Verify(tok, t0)
	if err != nil || got.KeyID != kidLegacy {
		t.Errorf("Verify = %+v, %v; want key %s", got, err, kidLegacy)
	}
}

// goodClaims are the claims of a token valid at t0 for the fixture ring.
func goodClaims() map[string]any {
	return map[string]any{
		"sub": "staff-123", "email": "bob@example.com", "name": "Bob", "role": "staff",
		"iat": t0.Add(-time.Hour).Unix(), "nbf": t0.Add(-time.Hour).Unix(), "exp": t0.Add(time.Hour).Unix(),
		"jti": "AAAAAAAAAAAAAAAAAAAAAA", "iss": "https://jack.example.com", "aud": "jack",
	}
}

// claimsWith is goodClaims changed: a nil value removes the claim.
func claimsWith(change map[string]any) string {
	c := goodClaims()
	for k, v := range change {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	return string(b)
}

func hdr(alg, kid string) string {
	if kid == "" {
		return fmt.Sprintf(`{"alg":%q,"typ":"JWT"}`, alg)
	}
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, alg, kid)
}

type corpusCase struct {
	token  string
	ring   *keyring.Ring // the fixture ring when nil
	want   error         // nil, ErrInvalid or ErrExpired
	reason string
}

// corpus is a token for every rule of the threat model, good and bad. The
// fuzzers start from it too.
func corpus(t testing.TB) map[string]corpusCase {
	r := fixture(t)
	active, legacy := r.Find(kidActive), r.Find(kidLegacy)
	good := forge(t, hdr("HS256", kidActive), claimsWith(nil), active, "HS256")
	goodParts := strings.Split(good, ".")
	signed := func(header, claims string) string { return forge(t, header, claims, active, "HS256") }
	withClaims := func(change map[string]any) string { return signed(hdr("HS256", kidActive), claimsWith(change)) }
	resign := func(input string) string { return input + "." + signInput(t, input, active, "HS256") }
	flip := func(s string, i int) string { // another base64url character at i
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}

	rsa := r.Find(kidRetired)
	pubDER, err := x509.MarshalPKIXPublicKey(rsa.VerificationKey())
	if err != nil {
		t.Fatal(err)
	}
	rsaInput := b64.EncodeToString([]byte(hdr("HS256", kidRetired))) + "." + b64.EncodeToString([]byte(claimsWith(nil)))
	attacker, err := keyring.ImportHMAC("HS256", "attacker", pubDER)
	if err != nil {
		t.Fatal(err)
	}
	// The classic attack on libraries that take the algorithm from the
	// token: HMAC keyed with the public key of an RSA key.
	confusion := rsaInput + "." + signInput(t, rsaInput, &attacker, "HS256")
	noLegacy := *r
	noLegacy.Keys = slices.DeleteFunc(slices.Clone(r.Keys), func(k keyring.Key) bool { return k.Legacy })

	stdClaims := claimsWith(map[string]any{"name": "???>>>"}) // "?" and ">" encode to '/' and '+' in places
	stdInput := base64.StdEncoding.EncodeToString([]byte(hdr("HS256", kidActive))) + "." + base64.StdEncoding.EncodeToString([]byte(stdClaims))
	padClaims := claimsWith(map[string]any{"pad": "x"})
	if len(padClaims)%3 == 0 {
		padClaims = claimsWith(map[string]any{"pad": "xx"}) // so that it needs padding
	}
	padded := goodParts[0] + "." + base64.URLEncoding.EncodeToString([]byte(padClaims))
	sig := goodParts[2]
	// A signature of 32 bytes leaves 2 bits of its last character unused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	lastBits := sig[:len(sig)-1] + string(alphabet[strings.IndexByte(alphabet, sig[len(sig)-1])|1])

	cases := map[string]corpusCase{
		"a good token":                {good, nil, nil, ""},
		"a token Sign made":           {mustSign(t, r, t0.Add(-time.Minute)), nil, nil, ""},
		"an empty string":             {"", nil, ErrInvalid, ReasonMalformed},
		"garbage":                     {"not a token at all", nil, ErrInvalid, ReasonMalformed},
		"two segments":                {goodParts[0] + "." + goodParts[1], nil, ErrInvalid, ReasonMalformed},
		"four segments":               {good + "." + sig, nil, ErrInvalid, ReasonMalformed},
		"three empty segments":        {"..", nil, ErrInvalid, ReasonMalformedHeader},
		"a token longer than MaxSize": {withClaims(map[string]any{"pad": strings.Repeat("x", MaxSize)}), nil, ErrInvalid, ReasonTooLong},

		"alg none without a signature":                     {b64.EncodeToString([]byte(hdr("none", kidActive))) + "." + goodParts[1] + ".", nil, ErrInvalid, ReasonAlgorithmMismatch},
		"alg none with a signature":                        {resign(b64.EncodeToString([]byte(hdr("none", kidActive))) + "." + goodParts[1]), nil, ErrInvalid, ReasonAlgorithmMismatch},
		"alg none without kid":                             {b64.EncodeToString([]byte(hdr("none", ""))) + "." + goodParts[1] + ".", nil, ErrInvalid, ReasonAlgorithmMismatch},
		"HS256 on an RS256 key, keyed with its public key": {confusion, nil, ErrInvalid, ReasonAlgorithmMismatch},
		"alg in lower case":                                {signed(hdr("hs256", kidActive), claimsWith(nil)), nil, ErrInvalid, ReasonAlgorithmMismatch},
		"alg of another key of the ring":                   {forge(t, hdr("ES256", kidActive), claimsWith(nil), r.Find(kidPublished), "ES256"), nil, ErrInvalid, ReasonAlgorithmMismatch},
		"no alg":                                           {signed(`{"kid":"hs-active"}`, claimsWith(nil)), nil, ErrInvalid, ReasonAlgorithmMismatch},
		"an unknown kid":                                   {signed(hdr("HS256", "hs-other"), claimsWith(nil)), nil, ErrInvalid, ReasonUnknownKey},
		"an empty kid":                                     {signed(`{"alg":"HS256","kid":""}`, claimsWith(nil)), nil, ErrInvalid, ReasonUnknownKey},
		"a kid that is not a string":                       {signed(`{"alg":"HS256","kid":7}`, claimsWith(nil)), nil, ErrInvalid, ReasonMalformedHeader},
		"the kid of a published key":                       {forge(t, hdr("ES256", kidPublished), claimsWith(nil), r.Find(kidPublished), "ES256"), nil, nil, ""},
		"the kid of a retired key":                         {forge(t, hdr("RS256", kidRetired), claimsWith(nil), rsa, "RS256"), nil, nil, ""},
		"the kid of a key past expiresAt":                  {forge(t, hdr("HS256", kidGone), claimsWith(nil), r.Find(kidGone), "HS256"), nil, ErrInvalid, ReasonKeyRetired},
		"no kid, with a legacy key":                        {forge(t, hdr("HS256", ""), claimsWith(nil), legacy, "HS256"), nil, nil, ""},
		"the kid of the legacy key":                        {forge(t, hdr("HS256", kidLegacy), claimsWith(nil), legacy, "HS256"), nil, nil, ""},
		"no kid, signed by a key that is not legacy":       {signed(hdr("HS256", ""), claimsWith(nil)), nil, ErrInvalid, ReasonBadSignature},
		"no kid, with a ring without legacy keys":          {forge(t, hdr("HS256", ""), claimsWith(nil), legacy, "HS256"), &noLegacy, ErrInvalid, ReasonMissingKey},
		"no kid, with a legacy key, alg HS512":             {forge(t, hdr("HS512", ""), claimsWith(nil), legacy, "HS512"), nil, ErrInvalid, ReasonAlgorithmMismatch},

		"a tampered payload":                {goodParts[0] + "." + b64.EncodeToString([]byte(claimsWith(map[string]any{"sub": "admin-1"}))) + "." + sig, nil, ErrInvalid, ReasonBadSignature},
		"a tampered signature":              {goodParts[0] + "." + goodParts[1] + "." + flip(sig, 10), nil, ErrInvalid, ReasonBadSignature},
		"a truncated signature":             {good[:len(good)-4], nil, ErrInvalid, ReasonBadSignature},
		"an empty signature":                {goodParts[0] + "." + goodParts[1] + ".", nil, ErrInvalid, ReasonBadSignature},
		"a signature signed by another key": {goodParts[0] + "." + goodParts[1] + "." + signInput(t, goodParts[0]+"."+goodParts[1], r.Find(kidGone), "HS256"), nil, ErrInvalid, ReasonBadSignature},

		"expired beyond the leeway":             {withClaims(map[string]any{"exp": t0.Add(-31 * time.Second).Unix()}), nil, ErrExpired, ReasonExpired},
		"expired exactly the leeway ago":        {withClaims(map[string]any{"exp": t0.Add(-30 * time.Second).Unix()}), nil, ErrExpired, ReasonExpired},
		"expired within the leeway":             {withClaims(map[string]any{"exp": t0.Add(-29 * time.Second).Unix()}), nil, nil, ""},
		"expired and forged":                    {goodParts[0] + "." + b64.EncodeToString([]byte(claimsWith(map[string]any{"exp": t0.Add(-time.Hour).Unix()}))) + "." + sig, nil, ErrInvalid, ReasonBadSignature},
		"expired with the wrong issuer":         {withClaims(map[string]any{"exp": t0.Add(-time.Hour).Unix(), "iss": "https://evil.example.com"}), nil, ErrInvalid, ReasonWrongIssuer},
		"nbf in the future":                     {withClaims(map[string]any{"nbf": t0.Add(31 * time.Second).Unix()}), nil, ErrInvalid, ReasonNotYetValid},
		"nbf within the leeway":                 {withClaims(map[string]any{"nbf": t0.Add(30 * time.Second).Unix()}), nil, nil, ""},
		"iat in the future":                     {withClaims(map[string]any{"iat": t0.Add(31 * time.Second).Unix()}), nil, ErrInvalid, ReasonIssuedInFuture},
		"a wrong issuer":                        {withClaims(map[string]any{"iss": "https://evil.example.com"}), nil, ErrInvalid, ReasonWrongIssuer},
		"no issuer":                             {withClaims(map[string]any{"iss": nil}), nil, ErrInvalid, ReasonWrongIssuer},
		"no issuer, for a ring without one":     {withClaims(map[string]any{"iss": nil, "aud": nil}), withoutIssuer(r), nil, ""},
		"a wrong audience":                      {withClaims(map[string]any{"aud": "other"}), nil, ErrInvalid, ReasonWrongAudience},
		"an audience array":                     {withClaims(map[string]any{"aud": []string{"jack"}}), nil, ErrInvalid, ReasonMalformedClaims},
		"no exp":                                {withClaims(map[string]any{"exp": nil}), nil, ErrInvalid, ReasonMissingClaim},
		"exp 0":                                 {withClaims(map[string]any{"exp": 0}), nil, ErrInvalid, ReasonMissingClaim},
		"a fractional exp":                      {withClaims(map[string]any{"exp": float64(t0.Unix()) + 3600.5}), nil, ErrInvalid, ReasonMalformedClaims},
		"an exp in exponent form":               {withClaims(map[string]any{"exp": json.Number("1.7958336e9")}), nil, ErrInvalid, ReasonMalformedClaims},
		"a negative nbf":                        {withClaims(map[string]any{"nbf": -1}), nil, ErrInvalid, ReasonMalformedClaims},
		"an exp past year 9999":                 {withClaims(map[string]any{"exp": int64(253402300800)}), nil, ErrInvalid, ReasonMalformedClaims},
		"an exp that is a string":               {withClaims(map[string]any{"exp": "1795833600"}), nil, ErrInvalid, ReasonMalformedClaims},
		"no sub":                                {withClaims(map[string]any{"sub": nil}), nil, ErrInvalid, ReasonMissingClaim},
		"an empty sub":                          {withClaims(map[string]any{"sub": ""}), nil, ErrInvalid, ReasonMissingClaim},
		"no jti":                                {withClaims(map[string]any{"jti": nil}), nil, ErrInvalid, ReasonMissingClaim},
		"a role that is not a string":           {withClaims(map[string]any{"role": 1}), nil, ErrInvalid, ReasonMalformedClaims},
		"a null email":                          {signed(hdr("HS256", kidActive), strings.Replace(claimsWith(nil), `"bob@example.com"`, "null", 1)), nil, ErrInvalid, ReasonMalformedClaims},
		"claims that are an array":              {signed(hdr("HS256", kidActive), `["staff-123"]`), nil, ErrInvalid, ReasonMalformedClaims},
		"claims followed by more":               {signed(hdr("HS256", kidActive), claimsWith(nil)+"{}"), nil, ErrInvalid, ReasonMalformedClaims},
		"an unknown claim of every JSON type":   {withClaims(map[string]any{"x": []any{1.5e300, -0.0, true, false, nil, "s", map[string]any{"a": []any{}}}}), nil, nil, ""},
		"an unknown claim out of float64 range": {signed(hdr("HS256", kidActive), strings.Replace(claimsWith(nil), "{", `{"x":1e999,`, 1)), nil, ErrInvalid, ReasonMalformedClaims},
		"claims nested 65 deep":                 {signed(hdr("HS256", kidActive), strings.Replace(claimsWith(nil), "{", `{"x":`+strings.Repeat("[", 64)+strings.Repeat("]", 64)+",", 1)), nil, ErrInvalid, ReasonMalformedClaims},
		"claims nested 64 deep":                 {signed(hdr("HS256", kidActive), strings.Replace(claimsWith(nil), "{", `{"x":`+strings.Repeat("[", 63)+strings.Repeat("]", 63)+",", 1)), nil, nil, ""},

		"a duplicate alg":                         {signed(`{"alg":"HS256","kid":"hs-active","alg":"HS256"}`, claimsWith(nil)), nil, ErrInvalid, ReasonMalformedHeader},
		"a duplicate kid":                         {signed(`{"alg":"HS256","kid":"hs-other","kid":"hs-active"}`, claimsWith(nil)), nil, ErrInvalid, ReasonMalformedHeader},
		"a duplicate alg, spelled with an escape": {signed(`{"alg":"none","kid":"hs-active","\u0061lg":"HS256"}`, claimsWith(nil)), nil, ErrInvalid, ReasonMalformedHeader},
		"a duplicate sub":                         {signed(hdr("HS256", kidActive), strings.Replace(claimsWith(nil), "{", `{"sub":"admin-1",`, 1)), nil, ErrInvalid, ReasonMalformedClaims},
		"a duplicate exp":                         {signed(hdr("HS256", kidActive), strings.Replace(claimsWith(nil), "{", `{"exp":99999999999,`, 1)), nil, ErrInvalid, ReasonMalformedClaims},
		"a crit header":                           {signed(`{"alg":"HS256","kid":"hs-active","crit":["exp"]}`, claimsWith(nil)), nil, ErrInvalid, ReasonMalformedHeader},
		"whitespace in the header and claims":     {signed(" {\n\t\"alg\" : \"HS256\" ,\r\n \"kid\":\"hs-active\" } ", " "+strings.ReplaceAll(claimsWith(nil), ",", " ,\n ")+"\n"), nil, nil, ""},
		"escapes in the header and claims":        {signed(`{"\u0061lg":"HS\u0032\u0035\u0036","kid":"hs-active"}`, strings.Replace(claimsWith(nil), `"name":"Bob"`, `"name":"B\u00f6b \ud83d\ude00 \/"`, 1)), nil, nil, ""},
		"a header that is not an object":          {signed(`"HS256"`, claimsWith(nil)), nil, ErrInvalid, ReasonMalformedHeader},
		"a header with a byte order mark":         {signed("\ufeff"+hdr("HS256", kidActive), claimsWith(nil)), nil, ErrInvalid, ReasonMalformedHeader},

		"padding":                                 {resign(padded), nil, ErrInvalid, ReasonMalformed},
		"the standard base64 alphabet":            {resign(stdInput), nil, ErrInvalid, ReasonMalformed},
		"a line break in the signature":           {goodParts[0] + "." + goodParts[1] + "." + sig[:20] + "\n" + sig[20:], nil, ErrInvalid, ReasonBadSignature},
		"unused signature bits that are not zero": {goodParts[0] + "." + goodParts[1] + "." + lastBits, nil, ErrInvalid, ReasonMalformed},
	}
	maps.Copy(cases, sessionCorpus(t, r))
	return cases
}

func mustSign(t testing.TB, r *keyring.Ring, now time.Time) string {
	t.Helper()
	tok, _, err := Sign(r, r.Active(), bob, Session{}, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyCorpus(t *testing.T) {
	for name, tc := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			ring := tc.ring
			if ring == nil {
				ring = fixture(t)
			}
			c, err := NewVerifier(ring, Options{}).Verify(tc.token, t0)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Verify refuses a good token: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tc.want)
			case tc.want != nil && c != (Claims{}):
				t.Errorf("Verify refused the token but returned claims %+v", c)
			}
			if got := Reason(err); got != tc.reason {
				t.Errorf("Reason = %q, want %q", got, tc.reason)
			}
			if err != nil {
				assertQuotesNothing(t, err, tc.token)
			}
		})
	}
}

// assertQuotesNothing fails if the error's text holds any piece of the
// token: an error may be logged, and a token in a log is a stolen session.
func assertQuotesNothing(t *testing.T, err error, tok string) {
	t.Helper()
	msg := err.Error()
	if msg != "token expired" && !strings.HasPrefix(msg, "token invalid: ") {
		t.Errorf("error %q is not one of this package's", msg)
	}
	const piece = 8
	for i := 0; i+piece <= len(tok); i++ {
		if strings.Contains(msg, tok[i:i+piece]) {
			t.Fatalf("error %q quotes the token", msg)
		}
	}
}

func TestLeeway(t *testing.T) {
	r := fixture(t)
	tok := forge(t, hdr("HS256", kidActive), claimsWith(map[string]any{"exp": t0.Add(-10 * time.Second).Unix()}), r.Find(kidActive), "HS256")
	cases := map[string]struct {
		leeway time.Duration
		want   error
	}{
		"the default tolerates 30 seconds": {0, nil},
		"a negative leeway means none":     {-time.Second, ErrExpired},
		"a leeway of 5 seconds":            {5 * time.Second, ErrExpired},
		"a leeway of 11 seconds":           {11 * time.Second, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := NewVerifier(r, Options{Leeway: tc.leeway}).Verify(tok, t0); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReason(t *testing.T) {
	if got := Reason(nil); got != "" {
		t.Errorf("Reason(nil) = %q", got)
	}
	if got := Reason(errors.New("boom")); got != ReasonOther {
		t.Errorf("Reason of a foreign error = %q", got)
	}
	if got := Reason(fmt.Errorf("verifying: %w", errSignature)); got != ReasonBadSignature {
		t.Errorf("Reason of a wrapped refusal = %q", got)
	}
	seen := map[string]bool{}
	for _, r := range Reasons {
		if seen[r] || r == "" || strings.ContainsAny(r, " -") {
			t.Errorf("reason %q is a duplicate or not a snake_case label", r)
		}
		seen[r] = true
	}
}

func TestANilRingVerifiesNothing(t *testing.T) {
	tok := mustSign(t, fixture(t), t0)
	if _, err := NewVerifier(nil, Options{}).Verify(tok, t0); !errors.Is(err, ErrInvalid) || Reason(err) != ReasonUnknownKey {
		t.Errorf("Verify with a nil ring = %v", err)
	}
}

// TestVerifyIsSafeForConcurrentUse is for -race: the verifier shares pooled
// HMAC states and scratch buffers between goroutines.
func TestVerifyIsSafeForConcurrentUse(t *testing.T) {
	r := fixture(t)
	v := NewVerifier(r, Options{})
	var toks []string
	for _, kid := range []string{kidActive, kidHS512, kidPublished, kidEdDSA, kidLegacy} {
		k := r.Find(kid)
		c := claimsWith(map[string]any{"sub": "user-" + kid})
		toks = append(toks, forge(t, hdr(string(k.Algorithm), kid), c, k, string(k.Algorithm)))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				j := (g + i) % len(toks)
				c, err := v.Verify(toks[j], t0)
				if err != nil || c.Subject != "user-"+[]string{kidActive, kidHS512, kidPublished, kidEdDSA, kidLegacy}[j] {
					t.Errorf("concurrent Verify = %+v, %v", c, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
