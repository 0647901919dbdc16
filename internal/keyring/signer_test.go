package keyring

import (
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

// ringOf is a ring of HS256 keys with the given ids and states, published
// an hour apart in that order (oldest first).
func ringOf(t *testing.T, keys ...string) *Ring {
	t.Helper()
	r := &Ring{TokenTTL: time.Hour}
	for i := 0; i+1 < len(keys); i += 2 {
		k := mustGenerate(t, "HS256", keys[i])
		k.State, k.PublishedAt = jack.KeyState(keys[i+1]), t0.Add(time.Duration(i)*time.Hour)
		r.Keys = append(r.Keys, k)
	}
	return r
}

func TestSignerFollowsTheAnnouncementUnlessTheRingIsNewer(t *testing.T) {
	const (
		published = string(jack.KeyPublished)
		active    = string(jack.KeyActive)
		retired   = string(jack.KeyRetired)
	)
	cases := map[string]struct {
		ring      []string
		announced string
		revoked   []string
		want      string // "" for no signer
	}{
		"nothing announced: the ring's active key":                          {[]string{"a", active, "b", published}, "", nil, "a"},
		"the announced key is the ring's active key":                        {[]string{"a", active, "b", published}, "a", nil, "a"},
		"a published key announced: it signs before the kubelet says so":    {[]string{"a", active, "b", published}, "b", nil, "b"},
		"an announced key the ring lacks: the ring's active key":            {[]string{"a", active}, "b", nil, "a"},
		"an announced key the ring already retired: the newer ring wins":    {[]string{"a", retired, "b", active}, "a", nil, "b"},
		"an older published key announced: the ring's newer active key":     {[]string{"a", published, "b", active}, "a", nil, "b"},
		"no active key and nothing announced: no signer":                    {[]string{"a", retired, "b", published}, "", nil, ""},
		"no active key and a published key announced: it signs":             {[]string{"a", retired, "b", published}, "b", nil, "b"},
		"the active key revoked, a key the ring lacks announced: no signer": {[]string{"a", active, "b", published}, "c", []string{"a"}, ""},
		"the announced key revoked: never it, nor anything older":           {[]string{"a", active, "b", published}, "b", []string{"b"}, ""},
		"another key revoked: the announcement stands":                      {[]string{"a", active, "b", published, "c", retired}, "b", []string{"c"}, "b"},
		"an empty ring": {nil, "b", nil, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := ringOf(t, tc.ring...).Signer(tc.announced, tc.revoked)
			switch {
			case got == nil && tc.want != "":
				t.Fatalf("no signer; want %s", tc.want)
			case got != nil && got.ID != tc.want:
				t.Fatalf("signer %s; want %q", got.ID, tc.want)
			}
		})
	}
}

func TestSignerBreaksATieInPublicationByTheKeyIDsAge(t *testing.T) {
	r := ringOf(t, "20261127-015500-aaaa", string(jack.KeyActive), "20261127-020000-bbbb", string(jack.KeyPublished))
	r.Keys[1].PublishedAt = r.Keys[0].PublishedAt
	if got := r.Signer("20261127-020000-bbbb", nil); got == nil || got.ID != "20261127-020000-bbbb" {
		t.Errorf("signer %v; want the key with the later id", got)
	}
	if got := r.Signer("20261127-015500-aaaa", nil); got == nil || got.ID != "20261127-015500-aaaa" {
		t.Errorf("signer %v; want the active key", got)
	}
}

// A rotation forced in the second the SigningKey was created publishes a
// key with the active key's publication time and time prefix: only the
// random suffix differs, and the published one is the successor whichever
// suffix is larger.
func TestAKeyPublishedInTheActiveKeysSecondSucceedsIt(t *testing.T) {
	for _, ids := range [][2]string{{"20261204-200756-74cc", "20261204-200756-3432"}, {"20261204-200756-3432", "20261204-200756-74cc"}} {
		r := ringOf(t, ids[0], string(jack.KeyActive), ids[1], string(jack.KeyPublished))
		r.Keys[1].PublishedAt = r.Keys[0].PublishedAt
		if got := r.Signer(ids[1], nil); got == nil || got.ID != ids[1] {
			t.Errorf("active %s, published %s announced: signer %v; want the published one", ids[0], ids[1], got)
		}
		if got := r.Signer("", nil); got == nil || got.ID != ids[0] {
			t.Errorf("active %s, nothing announced: signer %v; want the active one", ids[0], got)
		}
	}
}

func TestALegacyKeyNeverSigns(t *testing.T) {
	legacy, err := ImportHMAC("HS256", "legacy", []byte("a JWT_SECRET Jack once had, long enough"))
	if err != nil {
		t.Fatal(err)
	}
	legacy.State, legacy.PublishedAt = jack.KeyPublished, t0.Add(time.Hour)
	r := ringOf(t, "a", string(jack.KeyActive))
	r.Keys = append(r.Keys, legacy)
	if got := r.Signer("legacy", nil); got == nil || got.ID != "a" {
		t.Errorf("signer %v; want the active key, never a legacy one", got)
	}
}

func TestTheDigestCoversWhatTheRingSaysButNotItsMaterial(t *testing.T) {
	base := func() *Ring {
		r := ringOf(t, "a", string(jack.KeyActive), "b", string(jack.KeyPublished))
		r.Issuer, r.Audience = "https://jack.example.com", "jack"
		return r
	}
	want := base().Digest()
	if len(want) != 16 || strings.Trim(want, "0123456789abcdef") != "" {
		t.Fatalf("digest %q is not 16 hex digits", want)
	}

	// The same ring with new material (each ringOf generates keys): the
	// same digest, so it cannot tell anything about the material.
	if got := base().Digest(); got != want {
		t.Errorf("new material changed the digest from %s to %s", want, got)
	}
	// Through the file and back: the same digest.
	data, err := base().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed.Digest(); got != want {
		t.Errorf("the ring read back from its file has digest %s; want %s", got, want)
	}

	changes := map[string]func(r *Ring){
		"a key promoted":       func(r *Ring) { r.Keys[0].State, r.Keys[1].State = jack.KeyRetired, jack.KeyActive },
		"a key added":          func(r *Ring) { r.Keys = append(r.Keys, mustGenerate(t, "HS256", "c")) },
		"a key removed":        func(r *Ring) { r.Keys = r.Keys[:1] },
		"a key renamed":        func(r *Ring) { r.Keys[1].ID = "b2" },
		"an algorithm":         func(r *Ring) { r.Keys[1].Algorithm = jack.AlgorithmHS512 },
		"an expiry set":        func(r *Ring) { r.Keys[0].ExpiresAt = t0.Add(48 * time.Hour) },
		"an activation time":   func(r *Ring) { r.Keys[1].ActivatedAt = t0.Add(5 * time.Hour) },
		"a retirement time":    func(r *Ring) { r.Keys[0].RetiredAt = t0.Add(5 * time.Hour) },
		"a publication time":   func(r *Ring) { r.Keys[1].PublishedAt = t0.Add(5 * time.Hour) },
		"a key's longest TTL":  func(r *Ring) { r.Keys[0].MaxTokenTTL = 2 * time.Hour },
		"the token lifetime":   func(r *Ring) { r.TokenTTL = 2 * time.Hour },
		"the session lifetime": func(r *Ring) { r.SessionLifetime = 240 * time.Hour },
		"the issuer":           func(r *Ring) { r.Issuer = "https://other.example.com" },
		"the audience":         func(r *Ring) { r.Audience = "other" },
		"a legacy mark":        func(r *Ring) { r.Keys[1].Legacy = true },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			r := base()
			change(r)
			if got := r.Digest(); got == want {
				t.Errorf("the digest stayed %s", got)
			}
		})
	}
}
