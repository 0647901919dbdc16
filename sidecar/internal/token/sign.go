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
	// SessionID (sid), AuthTime (auth_time) and SessionGeneration (sgen)
	// place the token in its session: which login it descends from, when
	// that login happened, and how many refreshes led to it (0 for the
	// login's own token). A token issued before sessions existed carries
	// none of them: SessionID is empty, AuthTime zero and SessionGeneration
	// 0. Package sidecar/internal/session decides what they allow.
	SessionID         string
	AuthTime          time.Time
	SessionGeneration int64
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
	// The session claims, named by api/jack's Claim constants
	// (TestTheWireNamesTheSessionClaimsAsAPIJackDoes). They come before iss
	// and aud, where parseSigned expects them.
	SessionID         string `json:"sid"`
	AuthTime          int64  `json:"auth_time"`
	SessionGeneration int64  `json:"sgen"`
	Issuer            string `json:"iss,omitempty"`
	Audience          string `json:"aud,omitempty"`
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

// Session is the session a new token belongs to: what Sign writes as sid,
// auth_time and sgen.
//
// The zero Session starts a new session, as a login does: Sign draws a
// fresh id, and the session's AuthTime is the token's iat. An empty ID with
// an AuthTime also starts a new session, from that time: that is how a
// token issued before sessions existed is refreshed into one without
// lengthening how long its login lasts. A Session with an ID continues
// that session (a refresh), and must say its AuthTime.
type Session struct {
	// ID is the session's id (sid): 128 random bits in unpadded base64url
	// when Sign drew it; at most MaxIDLength printable ASCII characters.
	ID string
	// AuthTime is when the session's login happened, to the second. The
	// session ends SessionLifetime after it.
	AuthTime time.Time
	// Generation is how many refreshes led to the token, from 0 to
	// MaxSessionGeneration; 0 when ID is empty.
	Generation int64
}

// Session is the session the token belongs to, as Sign takes it: a token
// issued before sessions existed gives the zero Session.
func (c Claims) Session() Session {
	return Session{ID: c.SessionID, AuthTime: c.AuthTime, Generation: c.SessionGeneration}
}

// MaxSessionGeneration is the highest sgen a token may carry: 2^53-1, the
// largest integer that every JSON reader (JavaScript's, and golang-jwt's,
// which reads numbers as float64) reads exactly. A session refreshed once a
// second would reach it after 285 million years.
const MaxSessionGeneration = 1<<53 - 1

// ErrSessionOver is Sign's error for a token whose session has already
// lasted its lifetime: the token could not be valid for a single second.
// The sidecar answers it as an expired token: the client must log in again.
var ErrSessionOver = errors.New("the session has outlived its lifetime")

// SessionLifetime is how long after its login a session of ring's tokens
// lasts: the ring's SessionLifetime, or jack.DefaultSessionLifetime for a
// ring written before sessions existed.
func SessionLifetime(ring *keyring.Ring) time.Duration {
	if ring == nil || ring.SessionLifetime <= 0 {
		return jack.DefaultSessionLifetime
	}
	return ring.SessionLifetime
}

// Sign makes a token for u with key, one of the ring's keys, in session s
// (the zero Session starts a new one), valid from now (to the second) for
// the ring's TokenTTL, but never past the end of its session, AuthTime plus
// SessionLifetime(ring). When the session has ended, it refuses with an
// error wrapping ErrSessionOver.
//
// The caller chooses the key (keyring.Ring.Signer) because the ring file
// alone may lag behind the key the SigningKey announces; Sign refuses a key
// that may not sign at all: a Retired or legacy one. It returns the claims
// it signed, so that the caller can answer with expiresAt, and record the
// session it started, without decoding the token. Errors never quote key
// material, nor the session's id.
func Sign(ring *keyring.Ring, key *keyring.Key, u Subject, s Session, now time.Time) (string, Claims, error) {
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
	iat := now.Truncate(time.Second).UTC()
	s, err := settle(s, iat)
	if err != nil {
		return "", Claims{}, fmt.Errorf("signing a token with key %s: %w", key.ID, err)
	}
	exp := iat.Add(ring.TokenTTL).Truncate(time.Second)
	if end := s.AuthTime.Add(SessionLifetime(ring)).Truncate(time.Second); end.Before(exp) {
		exp = end
	}
	if !exp.After(iat) {
		return "", Claims{}, fmt.Errorf("signing a token with key %s: %w", key.ID, ErrSessionOver)
	}
	id, err := newID()
	if err != nil {
		return "", Claims{}, fmt.Errorf("signing a token with key %s: %w", key.ID, err)
	}
	if s.ID == "" {
		if s.ID, err = newID(); err != nil {
			return "", Claims{}, fmt.Errorf("signing a token with key %s: %w", key.ID, err)
		}
	}

	c := Claims{
		Subject:           u.ID,
		Email:             u.Email,
		Name:              u.Name,
		Role:              u.Role,
		IssuedAt:          iat,
		NotBefore:         iat,
		ExpiresAt:         exp,
		ID:                id,
		Issuer:            ring.Issuer,
		Audience:          ring.Audience,
		SessionID:         s.ID,
		AuthTime:          s.AuthTime,
		SessionGeneration: s.Generation,
		KeyID:             key.ID,
	}
	t := jwt.NewWithClaims(method, wireClaims{
		Subject:           c.Subject,
		Email:             c.Email,
		Name:              c.Name,
		Role:              c.Role,
		IssuedAt:          c.IssuedAt.Unix(),
		NotBefore:         c.NotBefore.Unix(),
		ExpiresAt:         c.ExpiresAt.Unix(),
		ID:                c.ID,
		SessionID:         c.SessionID,
		AuthTime:          c.AuthTime.Unix(),
		SessionGeneration: c.SessionGeneration,
		Issuer:            c.Issuer,
		Audience:          c.Audience,
	})
	t.Header["kid"] = key.ID // alg and typ ("JWT") are set by NewWithClaims
	tok, err := t.SignedString(key.SigningKey())
	if err != nil {
		// golang-jwt's signing errors name the problem, never the key.
		return "", Claims{}, fmt.Errorf("signing a token with key %s: %w", key.ID, err)
	}
	return tok, c, nil
}

// settle checks the session a token is signed into, and fills in the
// AuthTime of one that starts now. Whatever it lets through, Verify
// accepts (checkClaims): a session it could not read back would be a token
// nobody can use, refresh or log out.
func settle(s Session, iat time.Time) (Session, error) {
	switch {
	case s.ID != "" && !StorableID(s.ID):
		return s, errors.New("the session id is not 1 to 128 printable ASCII characters")
	case s.ID != "" && s.AuthTime.IsZero():
		return s, errors.New("a session that continues needs the time of its login")
	case s.ID == "" && s.Generation != 0:
		return s, errors.New("a new session starts at generation 0")
	case s.Generation < 0 || s.Generation > MaxSessionGeneration:
		return s, fmt.Errorf("session generation %d is not from 0 to %d", s.Generation, int64(MaxSessionGeneration))
	}
	if s.AuthTime.IsZero() {
		s.AuthTime = iat
	}
	s.AuthTime = s.AuthTime.Truncate(time.Second).UTC()
	switch {
	case s.AuthTime.Unix() < 1:
		// 0 reads back as no auth_time at all.
		return s, errors.New("the session's login time is not after 1970")
	case s.AuthTime.After(iat):
		return s, errors.New("the session's login time is after the token's issue time")
	}
	return s, nil
}

func legacyWord(k *keyring.Key) string {
	if k.Legacy {
		return "legacy "
	}
	return ""
}

// newID is a jti or a sid: 128 bits from crypto/rand, enough that two
// tokens, or two sessions, never share one, which revocation relies on.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading randomness for a token id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
