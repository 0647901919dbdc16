// Package apikey is the format of Jack's API keys: what the operator
// generates for a JackAPIKey and what a sidecar checks before it looks a
// presented key up.
//
// A key is "jack_", 32 characters of base62 drawn from crypto/rand (190 bits),
// and 6 characters of base62 holding the CRC-32 (IEEE) of everything before
// them — GitHub's token format, in Jack's colours:
//
//	jack_4kQ1v0cRZp3M8yTb2HwL9sXe7JdNfA6U 1Zq9Xw   (without the space)
//
// The fixed prefix lets secret scanners and people recognise a leaked key;
// the checksum lets a sidecar (or a scanner) refuse a mistyped or made-up key
// without a lookup, in constant work and without allocating. A key that
// passes is then compared by its SHA-256 digest (Digest), which is all that
// leaves the key's Secret: 190 random bits need no slow hash.
//
// Used by the operator's JackAPIKey controller (Generate, Digest, Last4) and
// by the sidecar (Check, Digest).
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"strings"
)

const (
	// Prefix starts every key.
	Prefix = "jack_"
	// bodyLen is the random part's length in base62 characters (190 bits).
	bodyLen = 32
	// sumLen is the checksum's length in base62 characters (62^6 > 2^32).
	sumLen = 6
	// Len is every key's length.
	Len = len(Prefix) + bodyLen + sumLen
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var (
	// ErrMalformed: not a key of this format (length, prefix, characters).
	ErrMalformed = errors.New("not a Jack API key: a key is jack_ followed by 38 letters and digits")
	// ErrChecksum: the right shape, but its checksum does not match: a
	// mistyped, truncated or made-up key.
	ErrChecksum = errors.New("the API key's checksum does not match: it was mistyped or made up")
)

// Generate returns a new key from crypto/rand.
func Generate() (string, error) {
	var b strings.Builder
	b.Grow(Len)
	b.WriteString(Prefix)
	// Rejection sampling keeps every character uniform: bytes of 248 and
	// above (62*4) would favour the first characters.
	var buf [64]byte
	for b.Len() < len(Prefix)+bodyLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		for _, c := range buf {
			if c < 62*4 && b.Len() < len(Prefix)+bodyLen {
				b.WriteByte(alphabet[c%62])
			}
		}
	}
	head := b.String()
	b.WriteString(encodeSum(checksum(head)))
	return b.String(), nil
}

// LooksLikeKey reports whether a credential is meant as an API key (it has
// the prefix), whether or not it is a valid one: a bearer credential that
// does not is a JWT.
func LooksLikeKey(s string) bool { return strings.HasPrefix(s, Prefix) }

// Check reports whether s has the format of a key and its checksum matches.
// It does not allocate.
func Check(s string) error {
	if len(s) != Len || !strings.HasPrefix(s, Prefix) {
		return ErrMalformed
	}
	for i := len(Prefix); i < Len; i++ {
		if value(s[i]) < 0 {
			return ErrMalformed
		}
	}
	want := encodeSumArray(checksum(s[:Len-sumLen]))
	if string(want[:]) != s[Len-sumLen:] {
		return ErrChecksum
	}
	return nil
}

// Digest is the SHA-256 of a key in hex: what is published and compared.
func Digest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// DigestArray is Digest as an array, for lookups without allocating (for
// keys of this format's length; a longer one is hashed all the same).
func DigestArray(key string) [sha256.Size]byte {
	var buf [Len]byte
	if len(key) > Len {
		return sha256.Sum256([]byte(key))
	}
	n := copy(buf[:], key)
	return sha256.Sum256(buf[:n])
}

// Last4 is the key's last four characters, for telling keys apart.
func Last4(key string) string {
	if len(key) < 4 {
		return ""
	}
	return key[len(key)-4:]
}

// checksum is the CRC-32 (IEEE) of s, computed over the string with the
// standard table: crc32.ChecksumIEEE would need s as a []byte, which its
// assembly makes escape, so one allocation per check.
func checksum(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

func encodeSum(v uint32) string {
	a := encodeSumArray(v)
	return string(a[:])
}

// encodeSumArray writes v in base62, most significant digit first, padded
// with '0' to sumLen characters.
func encodeSumArray(v uint32) [sumLen]byte {
	var out [sumLen]byte
	for i := sumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return out
}

// value is a base62 character's value, -1 for any other byte.
func value(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
