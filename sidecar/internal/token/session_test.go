package token

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// testSID is a session id as Sign draws them.
const testSID = "BBBBBBBBBBBBBBBBBBBBBB"

func TestSignPutsTheTokenInTheSessionItIsGiven(t *testing.T) {
	f := fixture(t)
	signedAt := t0.Add(1500 * time.Millisecond)
	iat := t0.Add(time.Second)
	login := t0.Add(-48 * time.Hour)
	cases := map[string]struct {
		session  Session
		want     Session // with the drawn id left empty
		drawnSID bool
	}{
		"the zero Session starts one at the token's iat": {Session{}, Session{AuthTime: iat}, true},
		"an id continues it": {
			Session{ID: testSID, AuthTime: login, Generation: 3},
			Session{ID: testSID, AuthTime: login, Generation: 3}, false,
		},
		"a login time without an id starts one from then, as a sessionless token's refresh does": {
			Session{AuthTime: login}, Session{AuthTime: login}, true,
		},
		"a login time within the second is the second": {
			Session{ID: testSID, AuthTime: login.Add(999 * time.Millisecond)},
			Session{ID: testSID, AuthTime: login}, false,
		},
		"a login at the token's iat": {Session{ID: testSID, AuthTime: iat}, Session{ID: testSID, AuthTime: iat}, false},
		"the highest generation": {
			Session{ID: testSID, AuthTime: login, Generation: MaxSessionGeneration},
			Session{ID: testSID, AuthTime: login, Generation: MaxSessionGeneration}, false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tok, signed, err := Sign(f, f.Active(), bob, tc.session, signedAt)
			if err != nil {
				t.Fatal(err)
			}
			got := signed.Session()
			if tc.drawnSID {
				if got.ID == tc.session.ID || !StorableID(got.ID) || len(got.ID) != 22 {
					t.Errorf("Sign did not draw a session id: %q", got.ID)
				}
				got.ID = ""
			}
			if got != tc.want {
				t.Errorf("Sign signed into session %+v, want %+v", got, tc.want)
			}
			verified, err := NewVerifier(f, Options{}).Verify(tok, signedAt)
			if err != nil || verified != signed {
				t.Errorf("Verify = %+v, %v; Sign signed %+v", verified, err, signed)
			}
		})
	}
}

func TestSignNeverOutlivesTheSession(t *testing.T) {
	const ttl = 24 * time.Hour
	k, err := keyring.Generate("HS256", "k")
	if err != nil {
		t.Fatal(err)
	}
	k.State = jack.KeyActive
	ring := func(lifetime time.Duration) *keyring.Ring {
		return &keyring.Ring{TokenTTL: ttl, SessionLifetime: lifetime, Keys: []keyring.Key{k}}
	}
	const week = 7 * 24 * time.Hour
	cases := map[string]struct {
		lifetime time.Duration
		login    time.Time // AuthTime; t0 is now
		now      time.Time
		wantExp  time.Time // zero: ErrSessionOver
	}{
		"a session far from its end: the ring's TokenTTL":          {week, t0.Add(-time.Hour), t0, t0.Add(ttl)},
		"a session ending within the TokenTTL: at its end":         {week, t0.Add(-week + time.Hour), t0, t0.Add(time.Hour)},
		"a session ending exactly a TokenTTL from now":             {week, t0.Add(-week + ttl), t0, t0.Add(ttl)},
		"a session ending a second after iat: a one-second token":  {week, t0.Add(-week + time.Second), t0, t0.Add(time.Second)},
		"a session ending at iat: over":                            {week, t0.Add(-week), t0, time.Time{}},
		"a session that ended an hour ago: over":                   {week, t0.Add(-week - time.Hour), t0, time.Time{}},
		"half a second before the end: iat is the second before":   {week, t0.Add(-week), t0.Add(-500 * time.Millisecond), t0},
		"a ring without a session lifetime: 720h":                  {0, t0.Add(-jack.DefaultSessionLifetime + time.Hour), t0, t0.Add(time.Hour)},
		"a ring without a session lifetime, at 720h: over":         {0, t0.Add(-jack.DefaultSessionLifetime), t0, time.Time{}},
		"a session lifetime shorter than the TokenTTL, at a login": {time.Hour, t0, t0, t0.Add(time.Hour)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := ring(tc.lifetime)
			_, signed, err := Sign(r, r.Active(), bob, Session{ID: testSID, AuthTime: tc.login, Generation: 1}, tc.now)
			if tc.wantExp.IsZero() {
				if !errors.Is(err, ErrSessionOver) {
					t.Fatalf("Sign = %+v, %v; want ErrSessionOver", signed, err)
				}
				return
			}
			if err != nil || !signed.ExpiresAt.Equal(tc.wantExp) {
				t.Fatalf("Sign = exp %v, %v; want exp %v", signed.ExpiresAt, err, tc.wantExp)
			}
		})
	}
}

func TestSessionLifetime(t *testing.T) {
	for name, tc := range map[string]struct {
		ring *keyring.Ring
		want time.Duration
	}{
		"no ring":                          {nil, jack.DefaultSessionLifetime},
		"a ring written before sessions":   {&keyring.Ring{}, jack.DefaultSessionLifetime},
		"a ring that sets its own":         {&keyring.Ring{SessionLifetime: time.Hour}, time.Hour},
		"a ring with a negative lifetime?": {&keyring.Ring{SessionLifetime: -time.Hour}, jack.DefaultSessionLifetime},
	} {
		t.Run(name, func(t *testing.T) {
			if got := SessionLifetime(tc.ring); got != tc.want {
				t.Errorf("SessionLifetime = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTheWireNamesTheSessionClaimsAsAPIJackDoes: struct tags cannot use the
// constants, so this holds them to api/jack's names.
func TestTheWireNamesTheSessionClaimsAsAPIJackDoes(t *testing.T) {
	typ := reflect.TypeFor[wireClaims]()
	for field, want := range map[string]string{
		"SessionID":         jack.ClaimSessionID,
		"AuthTime":          jack.ClaimAuthTime,
		"SessionGeneration": jack.ClaimSessionGeneration,
	} {
		f, ok := typ.FieldByName(field)
		if !ok || f.Tag.Get("json") != want {
			t.Errorf("wireClaims.%s is written as %q, want %q", field, f.Tag.Get("json"), want)
		}
	}
}

// TestSignsLayoutTakesTheFastPath: parseSigned must read every token Sign
// writes, with or without iss and aud, and those signed before sessions
// existed, or Verify gets slower without any test failing.
func TestSignsLayoutTakesTheFastPath(t *testing.T) {
	f := fixture(t)
	presession, _ := json.Marshal(struct {
		Subject   string    `json:"sub"`
		Email     string    `json:"email"`
		Name      string    `json:"name"`
		Role      jack.Role `json:"role"`
		IssuedAt  int64     `json:"iat"`
		NotBefore int64     `json:"nbf"`
		ExpiresAt int64     `json:"exp"`
		ID        string    `json:"jti"`
		Issuer    string    `json:"iss,omitempty"`
		Audience  string    `json:"aud,omitempty"`
	}{"staff-123", "alice@example.com", "Alice", "staff", t0.Unix(), t0.Unix(), t0.Add(time.Hour).Unix(), "AAAAAAAAAAAAAAAAAAAAAA", f.Issuer, f.Audience})
	layouts := map[string][]byte{
		"Sign's, with iss and aud":         signedPayload(t, f, Session{}),
		"Sign's, without iss and aud":      signedPayload(t, withoutIssuer(f), Session{}),
		"Sign's, continuing a session":     signedPayload(t, f, Session{ID: testSID, AuthTime: t0.Add(-time.Hour), Generation: 12}),
		"Sign's before sessions existed":   presession,
		"Sign's before sessions, iss only": []byte(strings.Replace(string(presession), `,"aud":"jack"`, "", 1)),
	}
	for name, payload := range layouts {
		t.Run(name, func(t *testing.T) {
			fast, ok := parseSigned(payload, string(payload))
			if !ok {
				t.Fatalf("parseSigned does not read %s", payload)
			}
			if slow, r := parseAnyClaims(payload, string(payload)); r != nil || slow != fast {
				t.Errorf("parseSigned read %+v, parseAnyClaims %+v, %v", fast, slow, r)
			}
		})
	}
}

func signedToken(t *testing.T, r *keyring.Ring, u Subject, s Session) string {
	t.Helper()
	tok, _, err := Sign(r, r.Active(), u, s, t0.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func signedPayload(t *testing.T, r *keyring.Ring, s Session) []byte {
	t.Helper()
	payload, err := b64.DecodeString(strings.Split(signedToken(t, r, alice, s), ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// TestVerifyAllocatesOnlyTheClaimsText holds Verify to one allocation a
// token, the text its claims are substrings of, with the session claims as
// without them.
func TestVerifyAllocatesOnlyTheClaimsText(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop what it holds, and Verify allocate its scratch")
	}
	f := fixture(t)
	v := NewVerifier(f, Options{})
	tokens := map[string]string{
		"a token Sign made":                   signedToken(t, f, alice, Session{}),
		"a token Sign made, refreshed":        signedToken(t, f, alice, Session{ID: testSID, AuthTime: t0.Add(-time.Hour), Generation: 4}),
		"a token of another layout":           forge(t, hdr("HS256", kidActive), claimsWith(map[string]any{"sid": testSID, "auth_time": t0.Add(-time.Hour).Unix(), "sgen": 7}), f.Find(kidActive), "HS256"),
		"a token from before sessions":        forge(t, hdr("HS256", kidActive), claimsWith(nil), f.Find(kidActive), "HS256"),
		"a legacy token, without kid":         forge(t, hdr("HS256", ""), claimsWith(nil), f.Find(kidLegacy), "HS256"),
		"a session token with a bad sgen":     forge(t, hdr("HS256", kidActive), claimsWith(map[string]any{"sid": testSID, "auth_time": t0.Add(-time.Hour).Unix(), "sgen": -1}), f.Find(kidActive), "HS256"),
		"a session token with auth_time late": forge(t, hdr("HS256", kidActive), claimsWith(map[string]any{"sid": testSID, "auth_time": t0.Unix(), "sgen": 1}), f.Find(kidActive), "HS256"),
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			v.Verify(tok, t0) // warm the pools
			if allocs := testing.AllocsPerRun(200, func() { v.Verify(tok, t0) }); allocs > 1 {
				t.Errorf("Verify allocates %v times a token, want at most 1", allocs)
			}
		})
	}
}

// sessionCorpus is a token for every rule of the session claims; corpus
// holds them with the rest.
func sessionCorpus(t testing.TB, r *keyring.Ring) map[string]corpusCase {
	active := r.Find(kidActive)
	signed := func(claims string) string { return forge(t, hdr("HS256", kidActive), claims, active, "HS256") }
	iat := t0.Add(-time.Hour).Unix() // goodClaims'
	session := func(change map[string]any) string {
		c := map[string]any{"sid": testSID, "auth_time": t0.Add(-48 * time.Hour).Unix(), "sgen": 3}
		maps.Copy(c, change)
		return signed(claimsWith(c))
	}
	// spliced is a session's claims with members written in by hand: a
	// duplicate, or a value json.Marshal would not write.
	spliced := func(members string) string {
		return signed(strings.Replace(claimsWith(map[string]any{"sid": testSID, "auth_time": iat, "sgen": 3}), "{", "{"+members+",", 1))
	}
	bad := func(tok string) corpusCase { return corpusCase{tok, nil, ErrInvalid, ReasonMalformedClaims} }
	good := func(tok string) corpusCase { return corpusCase{tok, nil, nil, ""} }

	return map[string]corpusCase{
		"a token of a session":                        good(session(nil)),
		"a session's first token, auth_time at iat":   good(session(map[string]any{"auth_time": iat, "sgen": 0})),
		"a token of a session without sgen":           good(session(map[string]any{"sgen": nil})),
		"a session token, expired":                    {session(map[string]any{"exp": t0.Add(-31 * time.Second).Unix()}), nil, ErrExpired, ReasonExpired},
		"the highest generation":                      good(session(map[string]any{"sgen": int64(MaxSessionGeneration)})),
		"a generation past the highest":               bad(session(map[string]any{"sgen": int64(MaxSessionGeneration) + 1})),
		"a negative generation":                       bad(session(map[string]any{"sgen": -1})),
		"a fractional generation":                     bad(session(map[string]any{"sgen": 1.5})),
		"a generation written 1.0":                    bad(session(map[string]any{"sgen": json.Number("1.0")})),
		"a generation in exponent form":               bad(session(map[string]any{"sgen": json.Number("1e1")})),
		"a generation with a leading zero":            bad(spliced(`"sgen":03`)),
		"a generation that is a string":               bad(session(map[string]any{"sgen": "3"})),
		"a null generation":                           bad(signed(strings.Replace(claimsWith(map[string]any{"sid": testSID, "auth_time": iat}), "{", `{"sgen":null,`, 1))),
		"an auth_time that is a string":               bad(session(map[string]any{"auth_time": "1795572000"})),
		"a fractional auth_time":                      bad(session(map[string]any{"auth_time": float64(iat) - 0.5})),
		"an auth_time after iat":                      bad(session(map[string]any{"auth_time": iat + 1})),
		"an auth_time after iat, and expired":         bad(session(map[string]any{"auth_time": iat + 1, "exp": t0.Add(-time.Hour).Unix()})),
		"a sid without auth_time":                     bad(session(map[string]any{"auth_time": nil})),
		"a sid with auth_time 0":                      bad(session(map[string]any{"auth_time": 0})),
		"a sid without iat":                           bad(session(map[string]any{"iat": nil})),
		"a sid that is not a string":                  bad(session(map[string]any{"sid": 7})),
		"a sid of 128 characters":                     good(session(map[string]any{"sid": strings.Repeat("s", 128)})),
		"a sid of 129 characters":                     bad(session(map[string]any{"sid": strings.Repeat("s", 129)})),
		"a sid with a space":                          bad(session(map[string]any{"sid": "a b"})),
		"a sid with a non-ASCII character":            bad(session(map[string]any{"sid": "caf\u00e9"})),
		"a sid spelled with an escape":                good(signed(strings.Replace(claimsWith(map[string]any{"auth_time": iat, "sgen": 1}), "{", `{"sid":"\u0041BC",`, 1))),
		"an empty sid with the other session claims":  bad(session(map[string]any{"sid": ""})),
		"an empty sid alone, as if there were none":   good(signed(claimsWith(map[string]any{"sid": ""}))),
		"auth_time without sid":                       bad(session(map[string]any{"sid": nil, "sgen": nil})),
		"sgen without sid":                            bad(session(map[string]any{"sid": nil, "auth_time": nil})),
		"sgen 0 and auth_time 0 without sid, as none": good(session(map[string]any{"sid": nil, "auth_time": 0, "sgen": 0})),
		"a duplicate sid":                             bad(spliced(`"sid":"CCCCCCCCCCCCCCCCCCCCCC"`)),
		"a duplicate auth_time":                       bad(spliced(`"auth_time":1`)),
		"a duplicate sgen":                            bad(spliced(`"sgen":4`)),
		"a duplicate sid, spelled with an escape":     bad(spliced(`"\u0073id":"CCCCCCCCCCCCCCCCCCCCCC"`)),
	}
}
