package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// Keys is a loaded key ring with its verifier, built once per load.
type Keys struct {
	Ring     *keyring.Ring
	Verifier *token.Verifier
	// State describes the ring for the sidecar's /state, without its
	// material; built here so that a poll of /state costs no hashing.
	State *jack.RingState
}

// NewKeys prepares a ring for serving.
func NewKeys(ring *keyring.Ring) *Keys {
	st := &jack.RingState{Version: ring.Digest(), Keys: make([]jack.KeyStateReport, 0, len(ring.Keys))}
	for _, k := range ring.Keys {
		st.Keys = append(st.Keys, jack.KeyStateReport{ID: k.ID, State: k.State})
	}
	return &Keys{Ring: ring, Verifier: token.NewVerifier(ring, token.Options{}), State: st}
}

// Signer is the key to sign new tokens with now: the ring's choice given
// what the SigningKey announces (keyring.Ring.Signer), nil when no key may
// sign. signing is nil when the sidecar has no API access.
func (k *Keys) Signer(signing Signing) *keyring.Key {
	if signing == nil {
		return k.Ring.Signer("", nil)
	}
	announced, revoked, _ := signing.Announced()
	return k.Ring.Signer(announced, revoked)
}

// Users is a loaded user directory with its index, built once per load.
type Users struct {
	Dir   *userdir.Directory
	Index *userdir.Index
	// State describes the directory for the sidecar's /state, without a
	// password hash.
	State *jack.DirectoryState
}

// NewUsers prepares a directory for serving.
func NewUsers(d *userdir.Directory) *Users {
	return &Users{Dir: d, Index: d.Index(), State: &jack.DirectoryState{Version: directoryDigest(d), Users: len(d.Users)}}
}

// Holds reports whether the directory has the user with this id for a
// login with email and the password at passwordVersion, as far as it alone
// decides (the live view may refuse more, see Server.passwordCurrent): the
// login's lookup of email (case-insensitive, Index.ByEmail) finds that id,
// with a hash of the password at that version. disabled is that entry's,
// which a login does not get past. What /confirm answers the operator
// before it says a new user, a new email or a new password works here.
func (u *Users) Holds(id, email, passwordVersion string) (holds, disabled bool) {
	e, found := u.Index.ByEmail(email)
	if !found || e.ID != id || e.PasswordHash == "" || e.PasswordVersion != passwordVersion {
		return false, false
	}
	return true, e.Disabled
}

// directoryDigest is a short hex digest (16 digits of a SHA-256) of the
// directory's users, from the fields that are not secret. The password
// hash is left out: /state is read without credentials, and nothing derived
// from a secret belongs there; passwordVersion, which the operator changes
// with every hash, already makes a new password a new version.
func directoryDigest(d *userdir.Directory) string {
	h := sha256.New()
	// One JSON document per user: unambiguous, and no more memory than one
	// user's fields at a time, whatever the directory's size.
	enc := json.NewEncoder(h)
	for i := range d.Users {
		u := &d.Users[i]
		_ = enc.Encode(digestUser{
			ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, PasswordVersion: u.PasswordVersion,
			Disabled: u.Disabled, SessionsValidAfter: u.SessionsValidAfter.UTC(),
		})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// digestUser is what directoryDigest covers. There is no field for the
// password hash here on purpose: keep it so.
type digestUser struct {
	ID, Email, Name    string
	Role               jack.Role
	PasswordVersion    string
	Disabled           bool
	SessionsValidAfter time.Time
}

// Source gives the current keys, users and policy. Each call returns the
// latest good load; the files behind them are swapped while requests run.
type Source interface {
	// Keys is false until a key ring has loaded.
	Keys() (*Keys, bool)
	// Users is false until a user directory has loaded.
	Users() (*Users, bool)
	Policy() *policy.Policy
}
