package token

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// Claims are what a token says. Times are whole seconds, in UTC; a time the
// token does not carry is the zero time.
type Claims struct {
	// Subject (sub) is the user's id, like "staff-123".
	Subject string
	// Email (email), Name (name) and Role (role) are the user's when the
	// token was signed. Verify reads them but does not check them: the
	// sidecar looks the user up in the directory anyway, and acts on what it
	// says now.
	Email string
	Name  string
	Role  jack.Role
	// IssuedAt (iat), NotBefore (nbf) and ExpiresAt (exp).
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
	// ID (jti) is 128 random bits in unpadded base64url: what a logout
	// revokes.
	ID string
	// Issuer (iss) and Audience (aud, a single string) are the ring's, and
	// empty when the ring sets none.
	Issuer   string
	Audience string
	// KeyID is not a claim but the id of the key that signed the token: its
	// kid header, or, for a token without one, the legacy key that verified
	// it. The sidecar refuses a token whose key the SigningKey revokes
	// before the kubelet brings the ring without it.
	KeyID string
}

// wireClaims is the JSON Sign writes. It implements jwt.Claims only because
// golang-jwt asks for one; Verify reads tokens with its own decoder.
type wireClaims struct {
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
}

func (w wireClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(w.ExpiresAt, 0)), nil
}

func (w wireClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(w.IssuedAt, 0)), nil
}

func (w wireClaims) GetNotBefore() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(w.NotBefore, 0)), nil
}

func (w wireClaims) GetIssuer() (string, error)  { return w.Issuer, nil }
func (w wireClaims) GetSubject() (string, error) { return w.Subject, nil }

func (w wireClaims) GetAudience() (jwt.ClaimStrings, error) {
	if w.Audience == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{w.Audience}, nil
}

// Subject is who a token is issued to: the claims that name the user, and
// nothing else of their record (a password hash has no business here).
type Subject struct {
	ID    string
	Email string
	Name  string
	Role  jack.Role
}

// Sign makes a token for u with key, one of the ring's keys, valid from now
// (to the second) for the ring's TokenTTL. The caller chooses the key
// (keyring.Ring.Signer) because the ring file alone may lag behind the key
// the SigningKey announces; Sign refuses a key that may not sign at all: a
// Retired or legacy one. It returns the claims it signed, so that the
// caller can answer with expiresAt without decoding the token. Errors never
// quote key material.
func Sign(ring *keyring.Ring, key *keyring.Key, u Subject, now time.Time) (string, Claims, error) {
	switch {
	case ring == nil:
		return "", Claims{}, errors.New("signing a token: no key ring")
	case key == nil:
		return "", Claims{}, errors.New("signing a token: no key may sign")
	case key.Legacy || key.State != jack.KeyActive && key.State != jack.KeyPublished:
		return "", Claims{}, fmt.Errorf("signing a token with key %s: a %s%s key does not sign", key.ID, legacyWord(key), key.State)
	}
	if ring.TokenTTL < time.Second {
		return "", Claims{}, fmt.Errorf("signing a token with key %s: the ring's token lifetime %v is under a second", key.ID, ring.TokenTTL)
	}
	if u.ID == "" {
		// Verify refuses a token without sub; don't make one.
		return "", Claims{}, errors.New("signing a token: the user has no id")
	}
	method := jwt.GetSigningMethod(string(key.Algorithm))
	if method == nil || method.Alg() != string(key.Algorithm) {
		return "", Claims{}, fmt.Errorf("signing a token with key %s: unknown algorithm %q", key.ID, key.Algorithm)
	}
	id, err := newID()
	if err != nil {
		return "", Claims{}, fmt.Errorf("signing a token with key %s: %w", key.ID, err)
	}

	iat := now.Truncate(time.Second).UTC()
	c := Claims{
		Subject:   u.ID,
		Email:     u.Email,
		Name:      u.Name,
		Role:      u.Role,
		IssuedAt:  iat,
		NotBefore: iat,
		ExpiresAt: iat.Add(ring.TokenTTL).Truncate(time.Second),
		ID:        id,
		Issuer:    ring.Issuer,
		Audience:  ring.Audience,
		KeyID:     key.ID,
	}
	t := jwt.NewWithClaims(method, wireClaims{
		Subject:   c.Subject,
		Email:     c.Email,
		Name:      c.Name,
		Role:      c.Role,
		IssuedAt:  c.IssuedAt.Unix(),
		NotBefore: c.NotBefore.Unix(),
		ExpiresAt: c.ExpiresAt.Unix(),
		ID:        c.ID,
		Issuer:    c.Issuer,
		Audience:  c.Audience,
	})
	t.Header["kid"] = key.ID // alg and typ ("JWT") are set by NewWithClaims
	s, err := t.SignedString(key.SigningKey())
	if err != nil {
		// golang-jwt's signing errors name the problem, never the key.
		return "", Claims{}, fmt.Errorf("signing a token with key %s: %w", key.ID, err)
	}
	return s, c, nil
}

func legacyWord(k *keyring.Key) string {
	if k.Legacy {
		return "legacy "
	}
	return ""
}

// newID is a jti: 128 bits from crypto/rand, enough that two tokens never
// share one, which revocation relies on.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading randomness for a token id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
