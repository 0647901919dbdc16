package keyring

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/jack-io/jack-operator/api/jack"
)

// Minimum strengths. HMAC secrets are at least as long as their hash output.
const (
	minRSABits = 2048
	rsaBits    = 2048
)

func hmacSize(alg jack.Algorithm) int {
	switch alg {
	case jack.AlgorithmHS384:
		return 48
	case jack.AlgorithmHS512:
		return 64
	default:
		return 32
	}
}

// material is a key's secret part: exactly one field is set.
type material struct {
	secret []byte             // HMAC
	rsa    *rsa.PrivateKey    // RS256
	ec     *ecdsa.PrivateKey  // ES256
	ed     ed25519.PrivateKey // EdDSA
}

// Generate makes a new key of the given algorithm from crypto/rand.
func Generate(alg jack.Algorithm, id string) (Key, error) {
	var m material
	var err error
	switch alg {
	case jack.AlgorithmHS256, jack.AlgorithmHS384, jack.AlgorithmHS512:
		m.secret = make([]byte, hmacSize(alg))
		_, err = rand.Read(m.secret)
	case jack.AlgorithmRS256:
		m.rsa, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case jack.AlgorithmES256:
		m.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jack.AlgorithmEdDSA:
		_, m.ed, err = ed25519.GenerateKey(rand.Reader)
	default:
		return Key{}, fmt.Errorf("unknown algorithm %q", alg)
	}
	if err != nil {
		return Key{}, fmt.Errorf("generating a %s key: %w", alg, err)
	}
	return Key{ID: id, Algorithm: alg, material: m}, nil
}

// ImportHMAC makes a key from an existing HMAC secret, such as Jack's
// JWT_SECRET. Legacy secrets are accepted whatever their length; they only
// verify, and only until the tokens they signed expire.
func ImportHMAC(alg jack.Algorithm, id string, secret []byte) (Key, error) {
	if !alg.Symmetric() {
		return Key{}, fmt.Errorf("cannot import a shared secret as a %s key", alg)
	}
	if len(secret) == 0 {
		return Key{}, errors.New("the secret is empty")
	}
	return Key{ID: id, Algorithm: alg, Legacy: true, material: material{secret: append([]byte(nil), secret...)}}, nil
}

// SigningKey is what github.com/golang-jwt/jwt/v5 signs with: []byte for
// HMAC, else the private key.
func (k *Key) SigningKey() any {
	switch {
	case k.material.secret != nil:
		return k.material.secret
	case k.material.rsa != nil:
		return k.material.rsa
	case k.material.ec != nil:
		return k.material.ec
	default:
		return k.material.ed
	}
}

// VerificationKey is what github.com/golang-jwt/jwt/v5 verifies with: []byte
// for HMAC, else the public key.
func (k *Key) VerificationKey() any {
	switch {
	case k.material.secret != nil:
		return k.material.secret
	case k.material.rsa != nil:
		return &k.material.rsa.PublicKey
	case k.material.ec != nil:
		return &k.material.ec.PublicKey
	default:
		return k.material.ed.Public()
	}
}

// JWTSecret is the value of the JWT_SECRET variable for this key: the raw
// secret for HMAC keys, a PEM "PRIVATE KEY" (PKCS #8) for the others.
func (k *Key) JWTSecret() ([]byte, error) {
	if k.material.secret != nil {
		return append([]byte(nil), k.material.secret...), nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.SigningKey())
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.ID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Fingerprint names the key without revealing it: "sha256:" and 16 hex digits
// of the SHA-256 of the public key (PKIX DER), or of the secret for HMAC keys.
// Legacy keys get none: an imported secret may be weak, and a hash of it
// would let anyone who reads the status test guesses offline.
func (k *Key) Fingerprint() string {
	if k.Legacy {
		return ""
	}
	var sum [32]byte
	if k.material.secret != nil {
		sum = sha256.Sum256(k.material.secret)
	} else {
		der, err := x509.MarshalPKIXPublicKey(k.VerificationKey())
		if err != nil {
			return ""
		}
		sum = sha256.Sum256(der)
	}
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// SameMaterial reports whether two keys hold the same secret.
func (k *Key) SameMaterial(o *Key) bool {
	a, errA := k.JWTSecret()
	b, errB := o.JWTSecret()
	return errA == nil && errB == nil && string(a) == string(b)
}

func (m material) check(alg jack.Algorithm, legacy bool) error {
	switch alg {
	case jack.AlgorithmHS256, jack.AlgorithmHS384, jack.AlgorithmHS512:
		if m.secret == nil {
			return fmt.Errorf("an %s key needs a shared secret", alg)
		}
		if !legacy && len(m.secret) < hmacSize(alg) {
			return fmt.Errorf("an %s secret must be at least %d bytes, this one has %d", alg, hmacSize(alg), len(m.secret))
		}
	case jack.AlgorithmRS256:
		if m.rsa == nil {
			return errors.New("an RS256 key needs an RSA private key")
		}
		if m.rsa.N.BitLen() < minRSABits {
			return fmt.Errorf("an RS256 key must have at least %d bits, this one has %d", minRSABits, m.rsa.N.BitLen())
		}
	case jack.AlgorithmES256:
		if m.ec == nil || m.ec.Curve != elliptic.P256() {
			return errors.New("an ES256 key needs a P-256 private key")
		}
	case jack.AlgorithmEdDSA:
		if len(m.ed) != ed25519.PrivateKeySize {
			return errors.New("an EdDSA key needs an Ed25519 private key")
		}
	default:
		return fmt.Errorf("unknown algorithm %q", alg)
	}
	return nil
}

// jwk holds the JWK members (RFC 7517, 7518, 8037) a ring file uses.
type jwk struct {
	KeyID     string `json:"kid"`
	KeyType   string `json:"kty"`
	Algorithm string `json:"alg"`
	Use       string `json:"use,omitempty"`
	K         string `json:"k,omitempty"`
	Crv       string `json:"crv,omitempty"`
	X         string `json:"x,omitempty"`
	Y         string `json:"y,omitempty"`
	N         string `json:"n,omitempty"`
	E         string `json:"e,omitempty"`
	D         string `json:"d,omitempty"`
	P         string `json:"p,omitempty"`
	Q         string `json:"q,omitempty"`
	DP        string `json:"dp,omitempty"`
	DQ        string `json:"dq,omitempty"`
	QI        string `json:"qi,omitempty"`
}

var b64 = base64.RawURLEncoding

func b64int(i *big.Int) string { return b64.EncodeToString(i.Bytes()) }

func (m material) toJWK(alg jack.Algorithm) (jwk, error) {
	switch {
	case m.secret != nil:
		return jwk{KeyType: "oct", K: b64.EncodeToString(m.secret)}, nil
	case m.rsa != nil:
		k := m.rsa
		k.Precompute()
		if len(k.Primes) != 2 {
			return jwk{}, errors.New("only two-prime RSA keys can be written")
		}
		return jwk{
			KeyType: "RSA", N: b64int(k.N), E: b64int(big.NewInt(int64(k.E))), D: b64int(k.D),
			P: b64int(k.Primes[0]), Q: b64int(k.Primes[1]),
			DP: b64int(k.Precomputed.Dp), DQ: b64int(k.Precomputed.Dq), QI: b64int(k.Precomputed.Qinv),
		}, nil
	case m.ec != nil:
		pub, err := m.ec.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return jwk{}, err
		}
		d, err := m.ec.Bytes()
		if err != nil {
			return jwk{}, err
		}
		return jwk{KeyType: "EC", Crv: "P-256", X: b64.EncodeToString(pub[1:33]), Y: b64.EncodeToString(pub[33:]), D: b64.EncodeToString(d)}, nil
	case m.ed != nil:
		return jwk{KeyType: "OKP", Crv: "Ed25519", X: b64.EncodeToString(m.ed.Public().(ed25519.PublicKey)), D: b64.EncodeToString(m.ed.Seed())}, nil
	}
	return jwk{}, fmt.Errorf("no key material for %s", alg)
}

func (j jwk) material(alg jack.Algorithm) (material, error) {
	field := func(name, v string) ([]byte, error) {
		if v == "" {
			return nil, fmt.Errorf("JWK member %q is missing", name)
		}
		b, err := b64.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("JWK member %q is not base64url", name)
		}
		return b, nil
	}
	wantKty := map[jack.Algorithm]string{
		jack.AlgorithmHS256: "oct", jack.AlgorithmHS384: "oct", jack.AlgorithmHS512: "oct",
		jack.AlgorithmRS256: "RSA", jack.AlgorithmES256: "EC", jack.AlgorithmEdDSA: "OKP",
	}[alg]
	if wantKty == "" {
		return material{}, fmt.Errorf("unknown algorithm %q", alg)
	}
	if j.KeyType != wantKty {
		return material{}, fmt.Errorf("algorithm %s needs key type %q, not %q", alg, wantKty, j.KeyType)
	}
	switch j.KeyType {
	case "oct":
		k, err := field("k", j.K)
		return material{secret: k}, err
	case "RSA":
		var parts [8][]byte
		for i, f := range []struct{ name, v string }{{"n", j.N}, {"e", j.E}, {"d", j.D}, {"p", j.P}, {"q", j.Q}, {"dp", j.DP}, {"dq", j.DQ}, {"qi", j.QI}} {
			b, err := field(f.name, f.v)
			if err != nil {
				return material{}, err
			}
			parts[i] = b
		}
		e := new(big.Int).SetBytes(parts[1])
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return material{}, errors.New("RSA exponent is out of range")
		}
		k := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(parts[0]), E: int(e.Int64())},
			D:         new(big.Int).SetBytes(parts[2]),
			Primes:    []*big.Int{new(big.Int).SetBytes(parts[3]), new(big.Int).SetBytes(parts[4])},
		}
		if err := k.Validate(); err != nil {
			return material{}, errors.New("RSA key is inconsistent")
		}
		k.Precompute()
		return material{rsa: k}, nil
	case "EC":
		if j.Crv != "P-256" {
			return material{}, fmt.Errorf("EC curve %q is not P-256", j.Crv)
		}
		d, err := field("d", j.D)
		if err != nil {
			return material{}, err
		}
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return material{}, errors.New("EC private key is invalid")
		}
		x, errX := field("x", j.X)
		y, errY := field("y", j.Y)
		pub, _ := k.PublicKey.Bytes()
		if errX != nil || errY != nil || string(pub[1:33]) != string(x) || string(pub[33:]) != string(y) {
			return material{}, errors.New("EC public key does not match the private key")
		}
		return material{ec: k}, nil
	case "OKP":
		if j.Crv != "Ed25519" {
			return material{}, fmt.Errorf("OKP curve %q is not Ed25519", j.Crv)
		}
		seed, err := field("d", j.D)
		if err != nil {
			return material{}, err
		}
		if len(seed) != ed25519.SeedSize {
			return material{}, errors.New("Ed25519 private key has the wrong size")
		}
		k := ed25519.NewKeyFromSeed(seed)
		if x, err := field("x", j.X); err != nil || string(x) != string(k.Public().(ed25519.PublicKey)) {
			return material{}, errors.New("Ed25519 public key does not match the private key")
		}
		return material{ed: k}, nil
	}
	return material{}, fmt.Errorf("unknown key type %q", j.KeyType)
}

// PublicJWKS is the ring's public keys as a JWK Set, for anyone to verify
// tokens signed with an asymmetric key. HMAC keys are never included.
func (r *Ring) PublicJWKS() ([]byte, error) {
	type set struct {
		Keys []jwk `json:"keys"`
	}
	s := set{Keys: []jwk{}}
	for _, k := range r.Keys {
		if k.Algorithm.Symmetric() {
			continue
		}
		j, err := k.material.toJWK(k.Algorithm)
		if err != nil {
			return nil, err
		}
		j.D, j.P, j.Q, j.DP, j.DQ, j.QI = "", "", "", "", "", ""
		j.KeyID, j.Algorithm, j.Use = k.ID, string(k.Algorithm), "sig"
		s.Keys = append(s.Keys, j)
	}
	return json.MarshalIndent(s, "", "  ")
}
