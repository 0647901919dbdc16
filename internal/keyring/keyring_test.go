package keyring

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

func mustGenerate(t testing.TB, alg jack.Algorithm, id string) Key {
	t.Helper()
	k, err := Generate(alg, id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEveryAlgorithmSurvivesARoundTrip(t *testing.T) {
	for _, alg := range []jack.Algorithm{"HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"} {
		t.Run(string(alg), func(t *testing.T) {
			k := mustGenerate(t, alg, "k1")
			k.State, k.PublishedAt, k.ActivatedAt, k.MaxTokenTTL = jack.KeyActive, t0, t0.Add(5*time.Minute), 24*time.Hour
			r := &Ring{TokenTTL: 24 * time.Hour, SessionLifetime: 240 * time.Hour, Issuer: "https://jack.example.com", Audience: "jack", Keys: []Key{k}}
			data, err := r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(data)
			if err != nil {
				t.Fatalf("parsing what Marshal wrote: %v", err)
			}
			gk := got.Active()
			if gk == nil || gk.ID != "k1" || gk.Algorithm != alg || !gk.ActivatedAt.Equal(t0.Add(5*time.Minute)) || gk.MaxTokenTTL != 24*time.Hour {
				t.Fatalf("key after a round trip = %+v", gk)
			}
			if !gk.SameMaterial(&k) || gk.Fingerprint() != k.Fingerprint() {
				t.Errorf("key material changed on the way through the file")
			}
			if got.TokenTTL != r.TokenTTL || got.SessionLifetime != r.SessionLifetime || got.Issuer != r.Issuer || got.Audience != r.Audience {
				t.Errorf("ring settings after a round trip = %v %v %q %q", got.TokenTTL, got.SessionLifetime, got.Issuer, got.Audience)
			}
			again, _ := got.Marshal()
			if !bytes.Equal(again, data) {
				t.Errorf("marshal is not deterministic:\n%s\n%s", data, again)
			}
		})
	}
}

func TestGeneratedKeysAreStrongEnough(t *testing.T) {
	cases := map[string]struct {
		alg  jack.Algorithm
		bits int
	}{
		"HS256 secrets have 256 bits": {"HS256", 256},
		"HS384 secrets have 384 bits": {"HS384", 384},
		"HS512 secrets have 512 bits": {"HS512", 512},
		"RS256 moduli have 2048 bits": {"RS256", 2048},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			k := mustGenerate(t, tc.alg, "k")
			var bits int
			if k.material.secret != nil {
				bits = 8 * len(k.material.secret)
			} else {
				bits = k.material.rsa.N.BitLen()
			}
			if bits < tc.bits {
				t.Errorf("%s key has %d bits, want at least %d", tc.alg, bits, tc.bits)
			}
		})
	}
	a, b := mustGenerate(t, "HS256", "a"), mustGenerate(t, "HS256", "b")
	if a.SameMaterial(&b) {
		t.Error("two generated keys hold the same secret")
	}
}

func TestParseRefusesBrokenRings(t *testing.T) {
	hs := mustGenerate(t, "HS256", "hs")
	hs.State = jack.KeyActive
	good := &Ring{TokenTTL: time.Hour, Keys: []Key{hs}}
	data, err := good.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	secret := hs.material.secret

	edit := func(f func(w map[string]any)) []byte {
		var w map[string]any
		if err := json.Unmarshal(data, &w); err != nil {
			t.Fatal(err)
		}
		f(w)
		out, _ := json.Marshal(w)
		return out
	}
	key0 := func(w map[string]any) map[string]any { return w["keys"].([]any)[0].(map[string]any) }
	cases := map[string]struct {
		data []byte
		want string
	}{
		"not JSON":           {[]byte("{"), "not valid JSON"},
		"an unknown version": {edit(func(w map[string]any) { w["version"] = "keyring.auth.jack.io/v9" }), `has version "keyring.auth.jack.io/v9"`},
		"no token lifetime":  {edit(func(w map[string]any) { delete(w, "tokenTTLSeconds") }), "no token lifetime"},
		"two keys with one id": {edit(func(w map[string]any) {
			k := key0(w)
			k2 := map[string]any{}
			for n, v := range k {
				k2[n] = v
			}
			k2["state"] = "Retired"
			w["keys"] = append(w["keys"].([]any), k2)
		}), `two keys with id "hs"`},
		"two active keys": {edit(func(w map[string]any) {
			k2 := map[string]any{}
			for n, v := range key0(w) {
				k2[n] = v
			}
			k2["kid"] = "hs2"
			w["keys"] = append(w["keys"].([]any), k2)
		}), "2 active keys"},
		"a revoked key":               {edit(func(w map[string]any) { key0(w)["state"] = "Revoked" }), `state "Revoked"`},
		"an active legacy key":        {edit(func(w map[string]any) { key0(w)["legacy"] = true }), "legacy key and may not sign"},
		"a short HMAC secret":         {edit(func(w map[string]any) { key0(w)["k"] = "c2hvcnQ" }), "at least 32 bytes"},
		"a key type for another alg":  {edit(func(w map[string]any) { key0(w)["alg"] = "RS256" }), `needs key type "RSA", not "oct"`},
		"an unknown algorithm":        {edit(func(w map[string]any) { key0(w)["alg"] = "none" }), `unknown algorithm "none"`},
		"material that is not base64": {edit(func(w map[string]any) { key0(w)["k"] = "!!!" }), `"k" is not base64url`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), b64.EncodeToString(secret)) || bytes.Contains([]byte(err.Error()), secret) {
				t.Fatalf("the error quotes key material: %v", err)
			}
		})
	}
}

func TestPublicJWKSHoldsOnlyPublicAsymmetricKeys(t *testing.T) {
	r := &Ring{TokenTTL: time.Hour}
	for _, alg := range []jack.Algorithm{"HS256", "RS256", "ES256", "EdDSA"} {
		k := mustGenerate(t, alg, "k-"+string(alg))
		k.State = jack.KeyRetired
		r.Keys = append(r.Keys, k)
	}
	data, err := r.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("JWKS has %d keys, want the 3 asymmetric ones: %s", len(set.Keys), data)
	}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("public key %s carries the private member %q", k["kid"], private)
			}
		}
		if k["use"] != "sig" || k["alg"] == "" || k["kid"] == "" {
			t.Errorf("public key lacks use/alg/kid: %v", k)
		}
	}
}

func TestFingerprints(t *testing.T) {
	k := mustGenerate(t, "ES256", "k")
	if fp := k.Fingerprint(); !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+16 {
		t.Errorf("fingerprint %q is not sha256: and 16 hex digits", fp)
	}
	legacy, err := ImportHMAC("HS256", "legacy", []byte("changeme"))
	if err != nil {
		t.Fatal(err)
	}
	if fp := legacy.Fingerprint(); fp != "" {
		t.Errorf("a legacy key has fingerprint %q; a hash of a possibly weak secret must not be published", fp)
	}
}

func TestVerifiesUntilExpiry(t *testing.T) {
	k := Key{State: jack.KeyRetired, ExpiresAt: t0}
	if !k.Verifies(t0.Add(-time.Second)) || k.Verifies(t0) {
		t.Error("a retired key must verify before expiresAt and not from it on")
	}
	p := Key{State: jack.KeyPublished}
	if !p.Verifies(t0) {
		t.Error("a published key must verify")
	}
}

func FuzzParse(f *testing.F) {
	k, _ := Generate("ES256", "k")
	k.State = jack.KeyActive
	seed, _ := (&Ring{TokenTTL: time.Hour, Keys: []Key{k}}).Marshal()
	f.Add(seed)
	f.Add([]byte(`{"version":"keyring.auth.jack.io/v1","tokenTTLSeconds":1,"keys":[{"kid":"a","kty":"RSA","alg":"RS256"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses must serialize and parse again to the same ring.
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("a parsed ring does not marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("a marshalled ring does not parse: %v", err)
		}
	})
}
