package keyring

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

// Version identifies this file format. Readers refuse any other version.
const Version = "keyring.auth.jack.io/v1"

// Ring is a SigningKey's set of keys and the token settings that go with them.
type Ring struct {
	// TokenTTL is the lifetime of the tokens signed with this ring.
	TokenTTL time.Duration
	// SessionLifetime is how long after its login a session's tokens may
	// last; zero (a ring written before sessions existed) means
	// jack.DefaultSessionLifetime.
	SessionLifetime time.Duration
	// Issuer and Audience, when set, are the iss and aud of every token.
	Issuer   string
	Audience string
	// Keys, oldest first.
	Keys []Key
}

// Key is one key of a ring: its identity, its life and its material.
type Key struct {
	ID        string
	Algorithm jack.Algorithm
	State     jack.KeyState
	// Legacy keys were imported from a pre-existing JWT_SECRET; only they
	// verify tokens that carry no kid.
	Legacy bool

	PublishedAt time.Time
	ActivatedAt time.Time // when it started (or, while Published, will start) to sign
	RetiredAt   time.Time
	ExpiresAt   time.Time // when it leaves the ring; zero while it may still sign

	// MaxTokenTTL is the longest token lifetime in force while the key
	// signed, so a retired key outlives every token it signed even if
	// tokenTTL was shortened meanwhile.
	MaxTokenTTL time.Duration

	material material
}

// Active returns the key that signs, or nil when there is none.
func (r *Ring) Active() *Key {
	for i := range r.Keys {
		if r.Keys[i].State == jack.KeyActive {
			return &r.Keys[i]
		}
	}
	return nil
}

// Find returns the key with the given id, or nil.
func (r *Ring) Find(kid string) *Key {
	for i := range r.Keys {
		if r.Keys[i].ID == kid {
			return &r.Keys[i]
		}
	}
	return nil
}

// Verifies reports whether the key may verify a token at time now: it is in
// the ring, not revoked, and not past its expiry.
func (k *Key) Verifies(now time.Time) bool {
	switch k.State {
	case jack.KeyPublished, jack.KeyActive, jack.KeyRetired:
		return k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt)
	default:
		return false
	}
}

// wire is the JSON shape of a ring file.
type wire struct {
	Version                string    `json:"version"`
	TokenTTLSeconds        int64     `json:"tokenTTLSeconds"`
	SessionLifetimeSeconds int64     `json:"sessionLifetimeSeconds,omitempty"`
	Issuer                 string    `json:"issuer,omitempty"`
	Audience               string    `json:"audience,omitempty"`
	Keys                   []wireKey `json:"keys"`
}

type wireKey struct {
	jwk
	State              jack.KeyState `json:"state"`
	Legacy             bool          `json:"legacy,omitempty"`
	PublishedAt        *time.Time    `json:"publishedAt,omitempty"`
	ActivatedAt        *time.Time    `json:"activatedAt,omitempty"`
	RetiredAt          *time.Time    `json:"retiredAt,omitempty"`
	ExpiresAt          *time.Time    `json:"expiresAt,omitempty"`
	MaxTokenTTLSeconds int64         `json:"maxTokenTTLSeconds,omitempty"`
}

// Marshal writes the ring in the file format. The output is deterministic:
// the same ring always gives the same bytes, so an unchanged ring is never
// rewritten.
func (r *Ring) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	w := wire{
		Version:                Version,
		TokenTTLSeconds:        int64(r.TokenTTL / time.Second),
		SessionLifetimeSeconds: int64(r.SessionLifetime / time.Second),
		Issuer:                 r.Issuer,
		Audience:               r.Audience,
		Keys:                   make([]wireKey, 0, len(r.Keys)),
	}
	for _, k := range r.Keys {
		j, err := k.material.toJWK(k.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		j.KeyID, j.Algorithm, j.Use = k.ID, string(k.Algorithm), "sig"
		w.Keys = append(w.Keys, wireKey{
			jwk:                j,
			State:              k.State,
			Legacy:             k.Legacy,
			PublishedAt:        timePtr(k.PublishedAt),
			ActivatedAt:        timePtr(k.ActivatedAt),
			RetiredAt:          timePtr(k.RetiredAt),
			ExpiresAt:          timePtr(k.ExpiresAt),
			MaxTokenTTLSeconds: int64(k.MaxTokenTTL / time.Second),
		})
	}
	return json.MarshalIndent(w, "", "  ")
}

// Parse reads a ring file. Errors name the key by its id and never quote
// key material.
func Parse(data []byte) (*Ring, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, errors.New("key ring is not valid JSON")
	}
	if w.Version != Version {
		return nil, fmt.Errorf("key ring has version %q; this program reads %q", w.Version, Version)
	}
	r := &Ring{
		TokenTTL:        time.Duration(w.TokenTTLSeconds) * time.Second,
		SessionLifetime: time.Duration(w.SessionLifetimeSeconds) * time.Second,
		Issuer:          w.Issuer,
		Audience:        w.Audience,
		Keys:            make([]Key, 0, len(w.Keys)),
	}
	for i, wk := range w.Keys {
		alg := jack.Algorithm(wk.Algorithm)
		m, err := wk.jwk.material(alg)
		if err != nil {
			return nil, fmt.Errorf("key %d (%q): %w", i, wk.KeyID, err)
		}
		r.Keys = append(r.Keys, Key{
			ID:          wk.KeyID,
			Algorithm:   alg,
			State:       wk.State,
			Legacy:      wk.Legacy,
			PublishedAt: timeOf(wk.PublishedAt),
			ActivatedAt: timeOf(wk.ActivatedAt),
			RetiredAt:   timeOf(wk.RetiredAt),
			ExpiresAt:   timeOf(wk.ExpiresAt),
			MaxTokenTTL: time.Duration(wk.MaxTokenTTLSeconds) * time.Second,
			material:    m,
		})
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Validate checks what every reader relies on: unique ids, known states,
// at most one active key, and material that matches its algorithm.
func (r *Ring) Validate() error {
	if r.TokenTTL <= 0 {
		return errors.New("key ring has no token lifetime")
	}
	seen := map[string]bool{}
	active := 0
	for _, k := range r.Keys {
		if k.ID == "" {
			return errors.New("key ring has a key without an id")
		}
		if seen[k.ID] {
			return fmt.Errorf("key ring has two keys with id %q", k.ID)
		}
		seen[k.ID] = true
		switch k.State {
		case jack.KeyActive:
			active++
		case jack.KeyPublished, jack.KeyRetired:
		default:
			return fmt.Errorf("key %s has state %q; a ring holds only Published, Active and Retired keys", k.ID, k.State)
		}
		if k.Legacy && k.State == jack.KeyActive {
			return fmt.Errorf("key %s is a legacy key and may not sign", k.ID)
		}
		if err := k.material.check(k.Algorithm, k.Legacy); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	if active > 1 {
		return fmt.Errorf("key ring has %d active keys; at most one may sign", active)
	}
	return nil
}

// SortKeys puts keys oldest first (by publication, then id) so that the
// serialized ring does not depend on the order keys were added in.
func (r *Ring) SortKeys() {
	slices.SortStableFunc(r.Keys, func(a, b Key) int {
		if c := a.PublishedAt.Compare(b.PublishedAt); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
