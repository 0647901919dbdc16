package password

import (
	"errors"
	"strings"
	"testing"
)

// cheap keeps most tests fast; the format does not depend on the cost.
var cheap = Params{Memory: 64, Iterations: 1, Threads: 1}

const secret = "correct horse battery staple"

func mustHash(t testing.TB, password string, p Params) string {
	t.Helper()
	h, err := Hash(password, p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAHashVerifiesItsPasswordAndNoOther(t *testing.T) {
	for name, p := range map[string]Params{"default parameters": DefaultParams, "cheap parameters": cheap} {
		t.Run(name, func(t *testing.T) {
			h := mustHash(t, secret, p)
			if ok, err := Verify(h, secret); !ok || err != nil {
				t.Fatalf("Verify(right password) = %v, %v; want true, nil", ok, err)
			}
			for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", secret + " "} {
				if ok, err := Verify(h, wrong); ok || err != nil {
					t.Errorf("Verify(%q) = %v, %v; want false, nil", wrong, ok, err)
				}
			}
		})
	}
}

func TestOnePasswordHashesDifferentlyEachTime(t *testing.T) {
	if mustHash(t, secret, cheap) == mustHash(t, secret, cheap) {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestHashesAreInThePHCFormatWithTheirParameters(t *testing.T) {
	p := Params{Memory: 1024, Iterations: 3, Threads: 2}
	encoded := mustHash(t, secret, p)
	if want := "$argon2id$v=19$m=1024,t=3,p=2$"; !strings.HasPrefix(encoded, want) {
		t.Fatalf("hash %q does not start with %q", encoded, want)
	}
	h, err := decode(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if h.params != p || len(h.salt) != saltLength || len(h.key) != keyLength {
		t.Errorf("read back %+v with a %d-byte salt and a %d-byte key; want %+v, %d and %d",
			h.params, len(h.salt), len(h.key), p, saltLength, keyLength)
	}
	if encode(h.params, h.salt, h.key) != encoded {
		t.Error("decoding and encoding again changes the hash")
	}
}

func TestATamperedHashDoesNotVerify(t *testing.T) {
	encoded := mustHash(t, secret, cheap)
	parts := strings.Split(encoded, "$")
	flip := func(s string) string { // change the first base64 digit, keeping it canonical
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	cases := map[string]string{
		"a changed key":        strings.Join(append(parts[:5:5], flip(parts[5])), "$"),
		"a changed salt":       strings.Join(append(parts[:4:4], flip(parts[4]), parts[5]), "$"),
		"changed memory":       strings.Replace(encoded, "m=64,", "m=72,", 1),
		"changed iterations":   strings.Replace(encoded, "t=1,", "t=2,", 1),
		"changed thread count": strings.Replace(encoded, "p=1$", "p=2$", 1),
	}
	for name, tampered := range cases {
		t.Run(name, func(t *testing.T) {
			if tampered == encoded {
				t.Fatal("the test did not change the hash")
			}
			if ok, err := Verify(tampered, secret); ok || err != nil {
				t.Errorf("Verify = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	encoded := mustHash(t, secret, cheap)
	cases := map[string]struct {
		encoded string
		params  Params
		want    bool
	}{
		"a hash made with the configured parameters is kept": {encoded, cheap, false},
		"raised memory asks for a new hash":                  {encoded, Params{Memory: 128, Iterations: 1, Threads: 1}, true},
		"raised iterations ask for a new hash":               {encoded, Params{Memory: 64, Iterations: 2, Threads: 1}, true},
		"more threads ask for a new hash":                    {encoded, Params{Memory: 64, Iterations: 1, Threads: 2}, true},
		"lowered parameters ask for a new hash too":          {mustHash(t, secret, Params{Memory: 128, Iterations: 2, Threads: 1}), cheap, true},
		"a hash with a short salt asks for a new hash":       {"$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA$" + strings.Repeat("A", 43), cheap, true},
		"an unusable hash asks for a new hash":               {"", cheap, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := NeedsRehash(tc.encoded, tc.params); got != tc.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMalformedHashesAreRefused(t *testing.T) {
	salt := strings.Repeat("A", 22) // 16 bytes
	key := strings.Repeat("A", 43)  // 32 bytes
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	cases := map[string]struct {
		encoded string
		want    string
	}{
		"an empty hash":                {"", "not of the form"},
		"a password stored as is":      {secret, "not of the form"},
		"a bcrypt hash":                {"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "not of the form"},
		"an argon2i hash":              {strings.Replace(with("m=64,t=1,p=1"), "argon2id", "argon2i", 1), "not an argon2id hash"},
		"argon2 version 16":            {strings.Replace(with("m=64,t=1,p=1"), "v=19", "v=16", 1), "not argon2 version 19"},
		"no version":                   {"$argon2id$m=64,t=1,p=1$" + salt + "$" + key, "not of the form"},
		"an extra part":                {with("m=64,t=1,p=1") + "$AAAA", "not of the form"},
		"parameters out of order":      {with("t=1,m=64,p=1"), "not m=…,t=…,p=…"},
		"a missing parameter":          {with("m=64,t=1"), "not m=…,t=…,p=…"},
		"a key id parameter":           {with("m=64,t=1,p=1,keyid=AAAA"), "not m=…,t=…,p=…"},
		"a leading zero":               {with("m=064,t=1,p=1"), "parameter m is not a decimal number"},
		"a signed number":              {with("m=+64,t=1,p=1"), "parameter m is not a decimal number"},
		"memory beyond 32 bits":        {with("m=4294967296,t=1,p=1"), "parameter m is not a decimal number below 2^32"},
		"more than 1 GiB of memory":    {with("m=1048577,t=1,p=1"), "1048577 KiB of memory is more than the limit"},
		"more than 64 iterations":      {with("m=64,t=65,p=1"), "65 iterations is more than the limit of 64"},
		"no iterations":                {with("m=64,t=0,p=1"), "at least 1 iteration"},
		"no threads":                   {with("m=64,t=1,p=0"), "at least 1 thread"},
		"more than 255 threads":        {with("m=4096,t=1,p=256"), "parameter p is not a decimal number below 2^8"},
		"less than 8 KiB per thread":   {with("m=64,t=1,p=9"), "less than 8 KiB for each of 9 threads"},
		"a salt that is not base64":    {"$argon2id$v=19$m=64,t=1,p=1$!!!!!!!!!!!!!!!!!!!!!!$" + key, "salt is not unpadded standard base64"},
		"a padded salt":                {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key, "salt is not unpadded standard base64"},
		"URL-safe base64":              {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:42] + "_", "key is not unpadded standard base64"},
		"stray low bits in the key":    {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:42] + "B", "key is not unpadded standard base64"},
		"a line break after the key":   {with("m=64,t=1,p=1") + "\n", "key is not unpadded standard base64"},
		"a salt shorter than 8 bytes":  {"$argon2id$v=19$m=64,t=1,p=1$AAAAAAA$" + key, "salt has 5 bytes, not 8 to 64"},
		"a key shorter than 16 bytes":  {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAAAAAAAAAAAAAAAAAA", "key has 15 bytes, not 16 to 64"},
		"a key longer than 64 bytes":   {"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 88), "key has 66 bytes, not 16 to 64"},
		"an empty salt and key":        {"$argon2id$v=19$m=64,t=1,p=1$$", "salt has 0 bytes"},
		"parameters in the wrong part": {"$argon2id$m=64,t=1,p=1$v=19$" + salt + "$" + key, "not argon2 version 19"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ok, err := Verify(tc.encoded, secret)
			if ok || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, %v; want false and an error saying %q", ok, err, tc.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("the error %v does not wrap ErrMalformed", err)
			}
			if !NeedsRehash(tc.encoded, DefaultParams) {
				t.Error("NeedsRehash is false for an unusable hash")
			}
			msg := err.Error()
			// The salt and key are what an attacker would need; a password
			// stored where a hash belongs is the password itself.
			for _, leak := range []string{tc.encoded, secret, salt, key} {
				if leak != "" && strings.Contains(msg, leak) {
					t.Errorf("the error %q quotes %q", msg, leak)
				}
			}
		})
	}
}

func TestHashRefusesParametersArgon2idCannotRun(t *testing.T) {
	cases := map[string]struct {
		params Params
		want   string
	}{
		"no threads":                 {Params{Memory: 64, Iterations: 1}, "at least 1 thread"},
		"no iterations":              {Params{Memory: 64, Threads: 1}, "at least 1 iteration"},
		"more than 1 GiB of memory":  {Params{Memory: 2 << 20, Iterations: 1, Threads: 1}, "more than the limit"},
		"less than 8 KiB per thread": {Params{Memory: 8, Iterations: 1, Threads: 2}, "less than 8 KiB for each of 2 threads"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h, err := Hash(secret, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.want) || h != "" {
				t.Fatalf("Hash = %q, %v; want an error saying %q", h, err, tc.want)
			}
		})
	}
	if err := DefaultParams.Validate(); err != nil {
		t.Errorf("DefaultParams are refused: %v", err)
	}
}

func TestDummyVerifyAcceptsAnything(t *testing.T) {
	// It must not panic on any input, however long; its cost is measured by
	// the benchmarks below.
	for _, p := range []string{"", secret, strings.Repeat("ä", 10000), "\x00\xff"} {
		DummyVerify(p)
	}
}

// BenchmarkVerifyDefault is what a login costs the sidecar.
func BenchmarkVerifyDefault(b *testing.B) {
	h := mustHash(b, secret, DefaultParams)
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := Verify(h, secret); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkDummyVerify must cost what BenchmarkVerifyDefault costs, or an
// unknown email could be told from a wrong password by timing.
func BenchmarkDummyVerify(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		DummyVerify(secret)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(mustHash(f, secret, cheap))
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$" + strings.Repeat("A", 22) + "$" + strings.Repeat("A", 43))
	f.Add("$argon2id$v=19$m=1048577,t=65,p=0$$")
	f.Fuzz(func(t *testing.T, encoded string) {
		// decode, not Verify: a hash that decodes may ask for 1 GiB.
		h, err := decode(encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v for a malformed hash", err)
			}
			return
		}
		// Only the canonical spelling decodes, and within the limits.
		if encode(h.params, h.salt, h.key) != encoded {
			t.Fatalf("%q decodes but is not canonical", encoded)
		}
		if err := h.params.Validate(); err != nil {
			t.Fatalf("%q decodes to parameters Validate refuses: %v", encoded, err)
		}
	})
}
