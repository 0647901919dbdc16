package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// reference verifies tok by the same rules as Verify, with golang-jwt doing
// the work: jwt.ParseWithClaims restricted to the key's algorithm, with the
// leeway, required exp, iat checked, and the ring's issuer and audience; the
// keyfunc picks the key by kid (or, without kid, a legacy key) and refuses a
// key that does not verify now. golang-jwt cannot require sub and jti, so
// that is checked after it. It returns nil, ErrExpired or ErrInvalid.
func reference(ring *keyring.Ring, tok string, now time.Time) (Claims, error) {
	for i := range ring.Keys {
		k := &ring.Keys[i]
		opts := []jwt.ParserOption{
			jwt.WithValidMethods([]string{string(k.Algorithm)}),
			jwt.WithLeeway(DefaultLeeway),
			jwt.WithTimeFunc(func() time.Time { return now }),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		}
		if ring.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(ring.Issuer))
		}
		if ring.Audience != "" {
			opts = append(opts, jwt.WithAudience(ring.Audience))
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
			kid, hasKid := t.Header["kid"]
			switch s, isString := kid.(string); {
			case !hasKid && !k.Legacy:
				return nil, errors.New("no kid, not a legacy key")
			case hasKid && (!isString || s != k.ID):
				return nil, errors.New("another key's kid")
			case !k.Verifies(now):
				return nil, errors.New("key no longer verifies")
			}
			return k.VerificationKey(), nil
		}, opts...)
		switch {
		case err == nil:
			if !requiredClaims(claims) {
				return Claims{}, ErrInvalid
			}
			c := claimsOf(claims)
			c.KeyID = k.ID
			return c, nil
		case errors.Is(err, jwt.ErrTokenInvalidClaims):
			// The signature verified, so this is the key; the verdict is
			// expired only if nothing else is wrong.
			if onlyExpired(err) && requiredClaims(claims) {
				return Claims{}, ErrExpired
			}
			return Claims{}, ErrInvalid
		}
	}
	return Claims{}, ErrInvalid
}

func requiredClaims(m jwt.MapClaims) bool {
	sub, _ := m["sub"].(string)
	jti, _ := m["jti"].(string)
	return sub != "" && jti != ""
}

func onlyExpired(err error) bool {
	if !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidSubject, jwt.ErrTokenRequiredClaimMissing, jwt.ErrInvalidType} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}

func claimsOf(m jwt.MapClaims) Claims {
	str := func(name string) string { s, _ := m[name].(string); return s }
	date := func(name string) time.Time {
		f, _ := m[name].(float64)
		if f == 0 {
			return time.Time{}
		}
		return time.Unix(int64(f), 0).UTC()
	}
	gen, _ := m[jack.ClaimSessionGeneration].(float64)
	return Claims{
		Subject: str("sub"), Email: str("email"), Name: str("name"), Role: jack.Role(str("role")),
		IssuedAt: date("iat"), NotBefore: date("nbf"), ExpiresAt: date("exp"),
		ID: str("jti"), Issuer: str("iss"), Audience: str("aud"),
		SessionID: str(jack.ClaimSessionID), AuthTime: date(jack.ClaimAuthTime), SessionGeneration: int64(gen),
	}
}

// refusedOnPurpose lists the reasons Verify may give for refusing tok where
// golang-jwt accepts it, or calling it invalid where golang-jwt calls it
// expired: each deliberate difference the package documentation lists. It
// is worked out with encoding/json and encoding/base64, independently of
// Verify's decoders.
func refusedOnPurpose(tok string) []string {
	var why []string
	if len(tok) > MaxSize {
		why = append(why, ReasonTooLong)
	}
	if strings.ContainsAny(tok, "\r\n") {
		// A line break changes the length of the segment it is in.
		why = append(why, ReasonMalformed, ReasonBadSignature)
	}
	segs := strings.Split(tok, ".")
	if len(segs) != 3 {
		return why
	}
	for _, seg := range segs {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(seg); err != nil {
			why = append(why, ReasonMalformed)
		}
	}
	if h, err := base64.RawURLEncoding.DecodeString(segs[0]); err == nil {
		if members(h, nil, "alg", "kid") || tooDeep(h) || hasMember(h, "crit") {
			why = append(why, ReasonMalformedHeader)
		}
	}
	if c, err := base64.RawURLEncoding.DecodeString(segs[1]); err == nil {
		if members(c, wrongClaimType, "sub", "email", "name", "role", "iat", "nbf", "exp", "jti", "iss", "aud",
			jack.ClaimSessionID, jack.ClaimAuthTime, jack.ClaimSessionGeneration) || tooDeep(c) || sessionMismatch(c) {
			why = append(why, ReasonMalformedClaims)
		}
	}
	return why
}

// members reports whether the object has one of the names twice, or, with
// bad, a value for one of them that bad refuses.
func members(obj []byte, bad func(name string, v json.RawMessage) bool, names ...string) bool {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		name := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return false
		}
		if !slices.Contains(names, name) {
			continue
		}
		if seen[name] || bad != nil && bad(name, v) {
			return true
		}
		seen[name] = true
	}
	return false
}

func hasMember(obj []byte, name string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return false
	}
	_, ok := m[name]
	return ok
}

var (
	plainInteger    = regexp.MustCompile(`^(0|[1-9][0-9]{0,11})$`)
	plainGeneration = regexp.MustCompile(`^(0|[1-9][0-9]{0,15})$`)
)

func wrongClaimType(name string, v json.RawMessage) bool {
	switch name {
	case "iat", "nbf", "exp", jack.ClaimAuthTime:
		if !plainInteger.Match(v) {
			return true
		}
		n, _ := strconv.ParseInt(string(v), 10, 64)
		return n > maxNumericDate
	case jack.ClaimSessionGeneration:
		if !plainGeneration.Match(v) {
			return true
		}
		n, _ := strconv.ParseInt(string(v), 10, 64)
		return n > MaxSessionGeneration
	case "jti", jack.ClaimSessionID:
		// An id a logout could not record (see StorableID); an empty one
		// counts as missing: for jti, which golang-jwt's side refuses too,
		// and for sid, which sessionMismatch judges.
		var s string
		return !bytes.HasPrefix(v, []byte(`"`)) || json.Unmarshal(v, &s) != nil || s != "" && (len(s) > 128 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }))
	default:
		var s string
		return !bytes.HasPrefix(v, []byte(`"`)) || json.Unmarshal(v, &s) != nil
	}
}

// sessionMismatch reports whether the claims carry session claims that do
// not fit together, read with encoding/json: auth_time or sgen without
// sid, or a sid without auth_time and iat, or with auth_time after iat.
// Absent, empty and 0 are one, as in Claims.
func sessionMismatch(claims []byte) bool {
	var m map[string]any
	if json.Unmarshal(claims, &m) != nil {
		return false
	}
	sid, _ := m[jack.ClaimSessionID].(string)
	authTime, _ := m[jack.ClaimAuthTime].(float64)
	gen, _ := m[jack.ClaimSessionGeneration].(float64)
	iat, _ := m["iat"].(float64)
	if sid == "" {
		return authTime != 0 || gen != 0
	}
	return authTime == 0 || iat == 0 || authTime > iat
}

func tooDeep(doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	depth := 0
	for {
		t, err := dec.Token()
		if err == io.EOF || err != nil {
			return false
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > maxDepth {
				return true
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// differential holds Verify to the reference's verdict on tok, for the
// fixture ring with and without issuer and audience.
func differential(t *testing.T, tok string) {
	for _, s := range fuzzSubjects(t) {
		got, err := s.verifier.Verify(tok, t0)
		want, refErr := reference(s.ring, tok, t0)
		switch {
		case err == nil && refErr == nil:
			if got != want {
				t.Fatalf("Verify and golang-jwt read different claims\nVerify:     %+v\ngolang-jwt: %+v", got, want)
			}
		case err == nil:
			t.Fatalf("Verify accepts a token golang-jwt refuses (%v): %+v", refErr, got)
		case errors.Is(err, ErrExpired) && !errors.Is(refErr, ErrExpired):
			t.Fatalf("Verify says expired, golang-jwt says %v", refErr)
		case refErr == nil || errors.Is(refErr, ErrExpired) && !errors.Is(err, ErrExpired):
			if why := refusedOnPurpose(tok); !slices.Contains(why, Reason(err)) {
				t.Fatalf("Verify refuses (%v) where golang-jwt says %v, and that is no deliberate difference (%v)", err, refErr, why)
			}
		}
	}
}

type fuzzSubject struct {
	ring     *keyring.Ring
	verifier *Verifier
}

var (
	fuzzSubjectsOnce sync.Once
	fuzzSubjectsList []fuzzSubject
)

// fuzzSubjects are the fixture ring with and without issuer and audience,
// each with its verifier, built once per process.
func fuzzSubjects(t testing.TB) []fuzzSubject {
	full := fixture(t)
	fuzzSubjectsOnce.Do(func() {
		for _, r := range []*keyring.Ring{full, withoutIssuer(full)} {
			fuzzSubjectsList = append(fuzzSubjectsList, fuzzSubject{r, NewVerifier(r, Options{})})
		}
	})
	return fuzzSubjectsList
}

func seedTokens(f *testing.F) []string {
	var toks []string
	for _, tc := range corpus(f) {
		toks = append(toks, tc.token)
	}
	slices.Sort(toks) // map order must not change the seed corpus
	return toks
}

// FuzzVerify feeds arbitrary token strings to Verify and to the golang-jwt
// reference. With resign set, the token is first given a valid signature by
// one of the fixture's keys, so that mutations of the header and claims get
// past the signature and reach the decoders.
func FuzzVerify(f *testing.F) {
	for _, tok := range seedTokens(f) {
		f.Add(tok, uint8(0))
		f.Add(tok, uint8(1))
	}
	f.Fuzz(func(t *testing.T, tok string, resign uint8) {
		if resign != 0 {
			if dot := strings.LastIndexByte(tok, '.'); dot > 0 {
				r := fixture(t)
				k := &r.Keys[int(resign-1)%len(r.Keys)]
				tok = tok[:dot] + "." + signInput(t, tok[:dot], k, string(k.Algorithm))
			}
		}
		differential(t, tok)
	})
}

// FuzzVerifyClaims mutates the header and claims as JSON, then signs them
// with one of the fixture's keys: it explores the JSON decoder behind a
// valid signature.
func FuzzVerifyClaims(f *testing.F) {
	for _, tok := range seedTokens(f) {
		segs := strings.Split(tok, ".")
		if len(segs) != 3 {
			continue
		}
		h, errH := base64.RawURLEncoding.DecodeString(segs[0])
		c, errC := base64.RawURLEncoding.DecodeString(segs[1])
		if errH == nil && errC == nil {
			f.Add(string(h), string(c), uint8(0))
		}
	}
	f.Add(`{"alg":"EdDSA","kid":"ed-retired"}`, claimsWith(map[string]any{"n": []any{1, -2.5e-3, "\u2028", map[string]any{"": nil}}}), uint8(4))
	f.Add(`{"alg":"HS256"}`, claimsWith(map[string]any{"name": "\xff\xfe"}), uint8(6))
	f.Add(`{"alg":"HS256","kid":"hs-active"}`, `{"sub":"a\ud800b","jti":"\u0000","exp":1795834800,"iss":"https://jack.example.com","aud":"jack"}`, uint8(0))
	// Sign's layout with a session and without iss and aud, so that the
	// fast path's optional members are explored from both sides.
	f.Add(`{"alg":"HS256","kid":"hs-active","typ":"JWT"}`, `{"sub":"staff-123","email":"bob@example.com","name":"Bob","role":"staff","iat":1795741200,"nbf":1795741200,"exp":1795748400,"jti":"AAAAAAAAAAAAAAAAAAAAAA","sid":"BBBBBBBBBBBBBBBBBBBBBB","auth_time":1795572000,"sgen":9007199254740991}`, uint8(0))
	f.Add(`{"alg":"HS256","kid":"hs-active","typ":"JWT"}`, `{"sub":"staff-123","email":"","name":"","role":"staff","iat":1795741200,"nbf":1795741200,"exp":1795748400,"jti":"A","sid":"","auth_time":0,"sgen":0,"iss":"https://jack.example.com","aud":"jack"}`, uint8(0))
	f.Fuzz(func(t *testing.T, header, claims string, key uint8) {
		// The fast path for Sign's layout must read what the general
		// decoder reads.
		if fast, ok := parseSigned([]byte(claims), claims); ok {
			if slow, r := parseAnyClaims([]byte(claims), claims); r != nil || slow != fast {
				t.Fatalf("parseSigned read %+v, parseAnyClaims %+v, %v", fast, slow, r)
			}
		}
		r := fixture(t)
		k := &r.Keys[int(key)%len(r.Keys)]
		differential(t, forge(t, header, claims, k, string(k.Algorithm)))
	})
}

// FuzzVerifyNeverPanics is Verify alone on arbitrary input: it must not
// panic, and must refuse with one of its own errors.
func FuzzVerifyNeverPanics(f *testing.F) {
	for _, tok := range seedTokens(f) {
		f.Add(tok)
	}
	v := NewVerifier(fixture(f), Options{})
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := v.Verify(tok, t0)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) || !slices.Contains(Reasons, Reason(err)) {
			t.Fatalf("Verify returned a foreign error %v", err)
		}
		assertQuotesNothing(t, err, tok)
	})
}

// TestReferenceAgreesWithTheCorpus keeps the fuzzers honest: a reference
// that refused everything would agree with any Verify that refuses.
func TestReferenceAgreesWithTheCorpus(t *testing.T) {
	for name, tc := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			ring := tc.ring
			if ring == nil {
				ring = fixture(t)
			}
			_, err := reference(ring, tc.token, t0)
			if errors.Is(err, tc.want) || err == nil && tc.want == nil {
				return
			}
			if why := refusedOnPurpose(tc.token); !slices.Contains(why, tc.reason) {
				t.Errorf("golang-jwt says %v, want %v, and the case is no deliberate difference (%v)", err, tc.want, why)
			}
		})
	}
}
