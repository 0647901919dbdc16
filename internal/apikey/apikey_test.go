package apikey

import (
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

func TestGeneratedKeysCheck(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != Len || !strings.HasPrefix(k, Prefix) || !LooksLikeKey(k) {
			t.Fatalf("generated %q: wrong shape", k)
		}
		if err := Check(k); err != nil {
			t.Fatalf("a generated key fails its own check: %v", err)
		}
		if seen[k] {
			t.Fatal("a key was generated twice")
		}
		seen[k] = true
	}
}

func TestCheckRefuses(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := []byte(k)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, key string
		want      error
	}{
		{"empty", "", ErrMalformed},
		{"a JWT", "eyJhbGciOiJIUzI1NiJ9.e30.sig", ErrMalformed},
		{"short by one", k[:Len-1], ErrMalformed},
		{"long by one", k + "a", ErrMalformed},
		{"another prefix", "ghp_" + k[4:], ErrMalformed},
		{"upper-case prefix", "JACK_" + k[5:], ErrMalformed},
		{"a symbol", k[:10] + "-" + k[11:], ErrMalformed},
		{"a space", k[:10] + " " + k[11:], ErrMalformed},
		{"non-ASCII", k[:Len-2] + "é", ErrMalformed},
		{"a typo in the body", flip(7), ErrChecksum},
		{"a typo in the checksum", flip(Len - 1), ErrChecksum},
		{"two characters swapped", k[:8] + string(k[9]) + string(k[8]) + k[10:], ErrChecksum},
		{"made up", Prefix + strings.Repeat("A", bodyLen) + "000000", ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "two characters swapped" && k[8] == k[9] {
				t.Skip("the two characters are equal in this key")
			}
			if err := Check(tc.key); !errors.Is(err, tc.want) {
				t.Errorf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDigestAndLast4(t *testing.T) {
	k, _ := Generate()
	d := Digest(k)
	if len(d) != 64 || strings.Contains(d, k) {
		t.Fatalf("digest %q", d)
	}
	if Digest(k) != d {
		t.Fatal("the digest is not stable")
	}
	if Last4(k) != k[Len-4:] || Last4("abc") != "" {
		t.Fatal("Last4")
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	k, _ := Generate()
	bad := k[:Len-1] + "x"
	if n := testing.AllocsPerRun(100, func() { _ = Check(k); _ = Check(bad); _ = DigestArray(k) }); n != 0 {
		t.Errorf("Check and DigestArray allocate %v times", n)
	}
}

func BenchmarkCheckBadChecksum(b *testing.B) {
	k, _ := Generate()
	bad := k[:Len-1] + "x"
	for b.Loop() {
		_ = Check(bad)
	}
}

func BenchmarkCheckAndDigest(b *testing.B) {
	k, _ := Generate()
	for b.Loop() {
		_ = Check(k)
		_ = DigestArray(k)
	}
}

func TestChecksumIsCRC32(t *testing.T) {
	for _, s := range []string{"", "a", "jack_0123456789abcdefghijABCDEFGHIJ01"} {
		if got, want := checksum(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("checksum(%q) = %08x, want %08x", s, got, want)
		}
	}
}
