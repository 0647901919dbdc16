package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	// Memory is in KiB.
	Memory     uint32
	Iterations uint32
	Threads    uint8
}

// DefaultParams are the minimum the OWASP Password Storage Cheat Sheet sets
// for argon2id: 19 MiB, 2 iterations, 1 thread. The sidecar pays this at
// every login, in a small container next to Jack, so a burst of logins must
// not exhaust its memory limit; RFC 9106's first recommendation (2 GiB)
// would. Raise them when the sidecar gets more room: NeedsRehash will then
// tell the operator which hashes to replace.
var DefaultParams = Params{Memory: 19 * 1024, Iterations: 2, Threads: 1}

// Limits on what a hash may ask for. They are far above any sane setting and
// only stop a tampered directory from making the sidecar allocate gigabytes
// or spin for seconds at each login.
const (
	maxMemory     = 1 << 20 // KiB, that is 1 GiB
	maxIterations = 64
)

// Sizes of what Hash writes, and of what a hash may hold when read. Readers
// accept a range so that a future writer may change them; RFC 9106 asks for
// a salt of at least 8 bytes, and a key under 16 bytes would be guessable.
const (
	saltLength    = 16
	keyLength     = 32
	minSaltLength = 8
	maxSaltLength = 64
	minKeyLength  = 16
	maxKeyLength  = 64
)

// ErrMalformed is the error, possibly wrapped, for a hash that cannot be
// used.
var ErrMalformed = errors.New("password hash is malformed")

var b64 = base64.RawStdEncoding

// Validate refuses parameters argon2id cannot run with, or that exceed the
// limits a reader enforces.
func (p Params) Validate() error {
	switch {
	case p.Threads == 0:
		return errors.New("argon2id needs at least 1 thread")
	case p.Iterations == 0:
		return errors.New("argon2id needs at least 1 iteration")
	case p.Iterations > maxIterations:
		return fmt.Errorf("%d iterations is more than the limit of %d", p.Iterations, maxIterations)
	case p.Memory > maxMemory:
		return fmt.Errorf("%d KiB of memory is more than the limit of %d KiB (1 GiB)", p.Memory, maxMemory)
	case p.Memory < 8*uint32(p.Threads):
		// RFC 9106 requires 8 KiB per thread.
		return fmt.Errorf("%d KiB of memory is less than 8 KiB for each of %d threads", p.Memory, p.Threads)
	}
	return nil
}

// Hash hashes a password with a fresh random salt.
func Hash(password string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("hashing a password: %w", err)
	}
	salt := make([]byte, saltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hashing a password: reading a salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Threads, keyLength)
	return encode(p, salt, key), nil
}

// Verify reports whether password is the one encoded was made from. It
// returns an error, wrapping ErrMalformed, only when encoded cannot be used;
// a wrong password is (false, nil).
func Verify(encoded, password string) (bool, error) {
	h, err := decode(encoded)
	if err != nil {
		// A login against an unusable hash must take as long as one against
		// a good hash, or timing would single out the broken accounts.
		DummyVerify(password)
		return false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.Memory, h.params.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// dummySalt and dummyKey need not be secret or random: DummyVerify only has
// to cost what Verify costs, and its result is thrown away.
var (
	dummySalt = make([]byte, saltLength)
	dummyKey  = make([]byte, keyLength)
)

// DummyVerify does the work of a Verify against a hash made with
// DefaultParams, and finds nothing. The sidecar calls it when no user has the
// email given at login, so that an unknown email takes as long to refuse as
// a wrong password and cannot be told apart by timing.
func DummyVerify(password string) {
	p := DefaultParams
	key := argon2.IDKey([]byte(password), dummySalt, p.Iterations, p.Memory, p.Threads, keyLength)
	subtle.ConstantTimeCompare(key, dummyKey)
}

// NeedsRehash reports whether encoded should be replaced by a hash made with
// p: it is unusable, or made with other parameters or sizes. Parameters are
// compared for equality, not strength, so that the configured ones are the
// ones in force, whichever way they changed.
func NeedsRehash(encoded string, p Params) bool {
	h, err := decode(encoded)
	return err != nil || h.params != p || len(h.salt) != saltLength || len(h.key) != keyLength
}

// hash is a decoded PHC string.
type hash struct {
	params Params
	salt   []byte
	key    []byte
}

var versionField = "v=" + strconv.Itoa(argon2.Version)

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$%s$m=%d,t=%d,p=%d$%s$%s",
		versionField, p.Memory, p.Iterations, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode reads a PHC string. It accepts only the canonical form Hash writes,
// so one password has one spelling per salt. Its errors never quote the
// input: a part of a hash, or a password stored by mistake, must not reach a
// log.
func decode(encoded string) (hash, error) {
	malformed := func(format string, a ...any) (hash, error) {
		return hash{}, fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return malformed("it is not of the form $argon2id$v=19$m=…,t=…,p=…$salt$key")
	}
	if parts[1] != "argon2id" {
		return malformed("it is not an argon2id hash")
	}
	if parts[2] != versionField {
		return malformed("it is not argon2 version %d", argon2.Version)
	}
	p, err := decodeParams(parts[3])
	if err != nil {
		return malformed("%w", err)
	}
	salt, err := decodeBase64(parts[4])
	if err != nil {
		return malformed("its salt %w", err)
	}
	if len(salt) < minSaltLength || len(salt) > maxSaltLength {
		return malformed("its salt has %d bytes, not %d to %d", len(salt), minSaltLength, maxSaltLength)
	}
	key, err := decodeBase64(parts[5])
	if err != nil {
		return malformed("its key %w", err)
	}
	if len(key) < minKeyLength || len(key) > maxKeyLength {
		return malformed("its key has %d bytes, not %d to %d", len(key), minKeyLength, maxKeyLength)
	}
	return hash{params: p, salt: salt, key: key}, nil
}

func decodeParams(s string) (Params, error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Params{}, errors.New("its parameters are not m=…,t=…,p=…")
	}
	var v [3]uint64
	for i, f := range []struct {
		name string
		bits int
	}{{"m", 32}, {"t", 32}, {"p", 8}} {
		digits, ok := strings.CutPrefix(fields[i], f.name+"=")
		if !ok {
			return Params{}, errors.New("its parameters are not m=…,t=…,p=…")
		}
		n, err := strconv.ParseUint(digits, 10, f.bits)
		if err != nil || strconv.FormatUint(n, 10) != digits {
			return Params{}, fmt.Errorf("its parameter %s is not a decimal number below 2^%d", f.name, f.bits)
		}
		v[i] = n
	}
	p := Params{Memory: uint32(v[0]), Iterations: uint32(v[1]), Threads: uint8(v[2])}
	if err := p.Validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}

// decodeBase64 accepts only what EncodeToString writes: no padding, no
// line breaks, no stray low bits.
func decodeBase64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, errors.New("is not unpadded standard base64")
	}
	return b, nil
}
