package keyring

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

// Digest is a short hex digest (16 digits of a SHA-256) of what the ring
// says about its keys and tokens: the token settings and each key's id,
// algorithm, state, legacy mark and times. It changes whenever any of them
// does, so a sidecar can report which ring it holds (jack.RingState) and
// the operator can compare rings, without either revealing the material:
// the material is not part of it, so the digest says nothing about a key
// that its id does not already say in every token's header.
func (r *Ring) Digest() string {
	h := sha256.New()
	// Each value is a JSON document on its own, so the input is unambiguous
	// however ids and issuers are spelled, and nothing needs more memory
	// than one key's fields.
	enc := json.NewEncoder(h)
	// Times and lifetimes are taken as the file holds them (UTC, whole
	// seconds), so a ring and the file written from it have one digest.
	_ = enc.Encode(digestRing{Version: Version, TokenTTL: seconds(r.TokenTTL), SessionLifetime: seconds(r.SessionLifetime), Issuer: r.Issuer, Audience: r.Audience, Keys: len(r.Keys)})
	for i := range r.Keys {
		k := &r.Keys[i]
		_ = enc.Encode(digestKey{
			ID: k.ID, Algorithm: k.Algorithm, State: k.State, Legacy: k.Legacy,
			PublishedAt: timeOf(timePtr(k.PublishedAt)), ActivatedAt: timeOf(timePtr(k.ActivatedAt)),
			RetiredAt: timeOf(timePtr(k.RetiredAt)), ExpiresAt: timeOf(timePtr(k.ExpiresAt)),
			MaxTokenTTL: seconds(k.MaxTokenTTL),
		})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// digestRing and digestKey are the fields Digest covers. There is no field
// for material here on purpose: keep it so.
type digestRing struct {
	Version          string
	TokenTTL         int64
	SessionLifetime  int64
	Issuer, Audience string
	Keys             int
}

type digestKey struct {
	ID                                             string
	Algorithm                                      jack.Algorithm
	State                                          jack.KeyState
	Legacy                                         bool
	PublishedAt, ActivatedAt, RetiredAt, ExpiresAt time.Time
	MaxTokenTTL                                    int64
}
