package server

import (
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// Keys is a loaded key ring with its verifier, built once per load.
type Keys struct {
	Ring     *keyring.Ring
	Verifier *token.Verifier
}

// NewKeys prepares a ring for serving.
func NewKeys(ring *keyring.Ring) *Keys {
	return &Keys{Ring: ring, Verifier: token.NewVerifier(ring, token.Options{})}
}

// Users is a loaded user directory with its index, built once per load.
type Users struct {
	Dir   *userdir.Directory
	Index *userdir.Index
}

// NewUsers prepares a directory for serving.
func NewUsers(d *userdir.Directory) *Users {
	return &Users{Dir: d, Index: d.Index()}
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
