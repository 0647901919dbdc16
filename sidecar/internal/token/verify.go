package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// MaxSize is the longest token Verify reads. Jack's tokens have a few hundred
// bytes (an RS256 one about 600); the bound keeps the work a forged token can
// cost small, and lets Verify decode into fixed buffers.
const MaxSize = 8 << 10

// DefaultLeeway is the clock skew Verify tolerates unless told otherwise:
// api/jack's TokenLeeway, which the operator keeps logouts for too.
const DefaultLeeway = jack.TokenLeeway

// Options tune a Verifier.
type Options struct {
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway; a negative Leeway means none.
	Leeway time.Duration
}

// Verifier checks tokens against one load of a key ring. Build a new one
// whenever the ring changes. It is safe for concurrent use.
type Verifier struct {
	keys     []*verifyKey // every key of the ring; few, so a scan beats a map
	legacy   []*verifyKey // the keys that verify tokens without kid
	headers  []knownHeader
	issuer   string
	audience string
	leeway   time.Duration
}

// verifyKey is a key of the ring with everything Verify needs decoded ahead.
type verifyKey struct {
	life      keyring.Key // its state and expiry only, for Verifies: no material
	id        string
	alg       string
	sigLen    int // of the decoded signature
	sigB64Len int // of the signature segment

	macs *sync.Pool // of hash.Hash, HMAC keyed with the secret
	rsa  *rsa.PublicKey
	ec   *ecdsa.PublicKey
	ed   ed25519.PublicKey
}

// NewVerifier prepares to verify tokens signed with ring's keys. A nil ring,
// or a key whose material does not fit its algorithm (Parse refuses such a
// ring), verifies nothing.
func NewVerifier(ring *keyring.Ring, opts Options) *Verifier {
	v := &Verifier{leeway: opts.Leeway}
	switch {
	case opts.Leeway == 0:
		v.leeway = DefaultLeeway
	case opts.Leeway < 0:
		v.leeway = 0
	}
	if ring == nil {
		return v
	}
	v.issuer, v.audience = ring.Issuer, ring.Audience
	for _, k := range ring.Keys {
		vk := newVerifyKey(k)
		if vk == nil {
			continue
		}
		v.keys = append(v.keys, vk)
		v.learnHeader(map[string]string{"alg": vk.alg, "kid": vk.id, "typ": "JWT"})
		if k.Legacy {
			v.legacy = append(v.legacy, vk)
			v.learnHeader(map[string]string{"alg": vk.alg, "typ": "JWT"})
		}
	}
	return v
}

// knownHeader is a header segment as signers write it, read ahead.
type knownHeader struct {
	segment string
	header  header
}

// learnHeader reads ahead the header segment that golang-jwt (and Node's
// jsonwebtoken, for tokens without kid) write for a key, so that Verify need
// not decode the header of nearly every token it sees. It is read by
// parseHeader like any other, so knowing it changes no verdict.
func (v *Verifier) learnHeader(members map[string]string) {
	data, err := json.Marshal(members) // sorted by name, as golang-jwt writes it
	if err != nil {
		return
	}
	seg := base64.RawURLEncoding.EncodeToString(data)
	h, r := parseHeader(data)
	if r != nil || slices.ContainsFunc(v.headers, func(k knownHeader) bool { return k.segment == seg }) {
		return
	}
	v.headers = append(v.headers, knownHeader{segment: seg, header: h})
}

// readHeader reads the header segment.
func (v *Verifier) readHeader(sc *scratch, seg string) (header, *refusal) {
	for i := range v.headers {
		if v.headers[i].segment == seg {
			return v.headers[i].header, nil
		}
	}
	data, ok := decodeSegment(sc.hdr[:], seg)
	if !ok {
		return header{}, errBase64
	}
	return parseHeader(data)
}

func newVerifyKey(k keyring.Key) *verifyKey {
	vk := &verifyKey{
		life: keyring.Key{ID: k.ID, State: k.State, ExpiresAt: k.ExpiresAt},
		id:   k.ID,
		alg:  string(k.Algorithm),
	}
	switch pub := k.VerificationKey().(type) {
	case []byte:
		var h func() hash.Hash
		switch k.Algorithm {
		case jack.AlgorithmHS256:
			h = sha256.New
		case jack.AlgorithmHS384:
			h = sha512.New384
		case jack.AlgorithmHS512:
			h = sha512.New
		default:
			return nil
		}
		secret := append([]byte(nil), pub...)
		vk.macs = &sync.Pool{New: func() any { return hmac.New(h, secret) }}
		vk.sigLen = h().Size()
	case *rsa.PublicKey:
		if k.Algorithm != jack.AlgorithmRS256 || pub == nil {
			return nil
		}
		vk.rsa, vk.sigLen = pub, pub.Size()
	case *ecdsa.PublicKey:
		if k.Algorithm != jack.AlgorithmES256 || pub == nil || pub.Curve == nil || pub.Curve.Params().BitSize != 256 {
			return nil
		}
		vk.ec, vk.sigLen = pub, 64 // JWS: r and s, 32 bytes each (RFC 7518 §3.4)
	case ed25519.PublicKey:
		if k.Algorithm != jack.AlgorithmEdDSA || len(pub) != ed25519.PublicKeySize {
			return nil
		}
		vk.ed, vk.sigLen = pub, ed25519.SignatureSize
	default:
		return nil
	}
	vk.sigB64Len = encodedLen(vk.sigLen)
	return vk
}

// scratch is the memory one Verify works in. Pooled, so that Verify
// allocates nothing it does not return.
type scratch struct {
	msg  [MaxSize]byte // the signing input, header.payload
	hdr  [MaxSize * 3 / 4]byte
	body [MaxSize * 3 / 4]byte
	sig  [MaxSize * 3 / 4]byte
	mac  [sha512.Size]byte
	der  [72]byte // an ES256 signature in ASN.1
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// Verify checks a token and returns its claims. Every error wraps ErrExpired
// or ErrInvalid, and Reason names why in a word; no error quotes the token.
//
// The key is chosen by the header's kid, and the token's alg must be that
// key's algorithm, spelled exactly: the token never chooses the algorithm. A
// token without kid is tried against the ring's legacy keys. The signature is
// checked before anything in the claims is read, so a forged token is
// ErrInvalid whatever it claims, and ErrExpired is returned only for a
// genuine token that is refused for nothing but its age.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > MaxSize {
		return Claims{}, errTooLong
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 < 0 {
		return Claims{}, errSegments
	}
	dot2 := strings.IndexByte(token[dot1+1:], '.') + dot1 + 1
	if dot2 == dot1 || strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return Claims{}, errSegments
	}

	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)

	h, r := v.readHeader(sc, token[:dot1])
	if r != nil {
		return Claims{}, r
	}
	key, r := v.checkSignature(sc, h, token[:dot2], token[dot2+1:], now)
	if r != nil {
		return Claims{}, r
	}

	// Genuine from here on.
	body, ok := decodeSegment(sc.body[:], token[dot1+1:dot2])
	if !ok {
		return Claims{}, errBase64
	}
	c, r := parseClaims(body)
	if r != nil {
		return Claims{}, r
	}
	if r := v.checkClaims(&c, now); r != nil {
		return Claims{}, r
	}
	c.KeyID = key.id
	return c, nil
}

// checkSignature finds the key for the token and checks its signature. It
// returns the key that verified it.
func (v *Verifier) checkSignature(sc *scratch, h header, input, sig string, now time.Time) (*verifyKey, *refusal) {
	if h.hasKid {
		k := v.find(h.kid)
		switch {
		case k == nil:
			return nil, errUnknownKey
		case !k.life.Verifies(now):
			return nil, errKeyRetired
		case string(h.alg) != k.alg:
			return nil, errAlgorithm
		}
		return k, k.check(sc, input, sig)
	}
	// No kid: only a legacy key may have signed it. They are tried in
	// turn; the first error worth reporting is kept.
	r := errMissingKey
	for _, k := range v.legacy {
		switch {
		case !k.life.Verifies(now):
			continue
		case string(h.alg) != k.alg:
			if r == errMissingKey {
				r = errAlgorithm
			}
			continue
		}
		if r = k.check(sc, input, sig); r == nil {
			return k, nil
		}
	}
	return nil, r
}

func (v *Verifier) find(kid []byte) *verifyKey {
	for _, k := range v.keys {
		if k.id == string(kid) {
			return k
		}
	}
	return nil
}

// check verifies the signature sig over input with the key.
func (k *verifyKey) check(sc *scratch, input, sig string) *refusal {
	// A signature of the wrong length is refused before any work, so a
	// flood of bad tokens costs no more than good ones.
	if len(sig) != k.sigB64Len {
		return errSignature
	}
	s, ok := decodeSegment(sc.sig[:], sig)
	if !ok {
		return errBase64
	}
	msg := sc.msg[:copy(sc.msg[:], input)]
	var good bool
	switch {
	case k.macs != nil:
		m := k.macs.Get().(hash.Hash)
		m.Reset()
		m.Write(msg)
		sum := m.Sum(sc.mac[:0])
		k.macs.Put(m)
		good = hmac.Equal(sum, s) // constant time
	case k.rsa != nil:
		digest := sha256.Sum256(msg)
		good = rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], s) == nil
	case k.ec != nil:
		digest := sha256.Sum256(msg)
		der, ok := asn1Signature(sc.der[:0], s)
		good = ok && ecdsa.VerifyASN1(k.ec, digest[:], der)
	case k.ed != nil:
		good = ed25519.Verify(k.ed, msg, s)
	}
	if !good {
		return errSignature
	}
	return nil
}

// asn1Signature turns a JWS ECDSA signature, r and s as two 32-byte
// big-endian integers, into the ASN.1 SEQUENCE of two INTEGERs that
// crypto/ecdsa reads. A zero r or s cannot be encoded, and no valid signature
// has one.
func asn1Signature(dst, rs []byte) ([]byte, bool) {
	half := len(rs) / 2
	r, s := trimZeros(rs[:half]), trimZeros(rs[half:])
	if len(r) == 0 || len(s) == 0 {
		return nil, false
	}
	n := asn1IntLen(r) + asn1IntLen(s)
	dst = append(dst, 0x30, byte(n)) // SEQUENCE; n < 128, short form
	dst = appendASN1Int(dst, r)
	return appendASN1Int(dst, s), true
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func asn1IntLen(b []byte) int { return 2 + len(b) + int(b[0]>>7) }

func appendASN1Int(dst, b []byte) []byte {
	dst = append(dst, 0x02, byte(len(b)+int(b[0]>>7))) // INTEGER
	if b[0]&0x80 != 0 {
		dst = append(dst, 0) // keep it positive
	}
	return append(dst, b...)
}

// checkClaims applies the ring's rules to the claims of a genuine token.
// Age is checked last: ErrExpired means that nothing else is wrong.
func (v *Verifier) checkClaims(c *Claims, now time.Time) *refusal {
	switch {
	case c.ExpiresAt.IsZero():
		return errMissingExpiry
	case c.Subject == "":
		return errMissingSubject
	case c.ID == "":
		return errMissingID
	case !StorableID(c.ID):
		return errUnstorableID
	case v.issuer != "" && c.Issuer != v.issuer:
		return errWrongIssuer
	case v.audience != "" && c.Audience != v.audience:
		return errWrongAudience
	case c.SessionID == "" && (!c.AuthTime.IsZero() || c.SessionGeneration != 0):
		return errNoSession
	case c.SessionID != "" && !StorableID(c.SessionID):
		return errUnstorableSession
	case c.SessionID != "" && (c.AuthTime.IsZero() || c.IssuedAt.IsZero() || c.AuthTime.After(c.IssuedAt)):
		// Sign writes auth_time no later than iat; the session's end is
		// reckoned from it, so it must be there, and make sense.
		return errSessionTimes
	case !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-v.leeway)):
		return errNotYetValid
	case !c.IssuedAt.IsZero() && now.Before(c.IssuedAt.Add(-v.leeway)):
		return errIssuedInFuture
	case !now.Before(c.ExpiresAt.Add(v.leeway)):
		// RFC 7519 §4.1.4: a token is valid only before its exp.
		return errExpired
	}
	return nil
}

// MaxIDLength is the longest jti a token may carry: what a logout records
// (the revocation file and a TokenRevocation's tokenID hold at most this).
const MaxIDLength = 128

// StorableID reports whether a jti or a sid can be recorded by a logout: 1
// to MaxIDLength printable ASCII characters without spaces. Verify refuses a
// token whose jti or sid is not, so that every token it accepts can be
// logged out; the sidecar's own ids are 22 base64url characters.
func StorableID(id string) bool {
	if id == "" || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
