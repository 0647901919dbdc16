package jack

import "time"

// SidecarStatePath is where a sidecar's ops port (SidecarOpsPortName)
// answers GET with a SidecarState as JSON: what it has loaded and acts on.
// The operator reads it from every ready injected pod of a SigningKey before
// it lets a published key sign, so that no replica is handed a token signed
// by a key it lacks. It holds nothing secret (key ids travel in every
// token's header) and needs no credentials: it is on the same port as
// /metrics and /readyz.
const SidecarStatePath = "/state"

// SidecarState is what a sidecar reports at SidecarStatePath.
type SidecarState struct {
	// Version is the sidecar's build, as its --version and the metric
	// jack_sidecar_build_info say: the release it was built as, such as
	// "0.1.0", or "dev" for a build that was not stamped. Empty from a
	// sidecar older than the field.
	Version string `json:"version"`
	// SigningKey is the SigningKey whose ring the sidecar serves
	// (--signing-key), empty when it was started without one.
	SigningKey string `json:"signingKey"`
	// Ring is the key ring file as loaded; nil before the first load.
	Ring *RingState `json:"ring"`
	// SigningKeyID is the key the sidecar signs new tokens with now: the
	// ring's active key, or the key the SigningKey's status announces as
	// active once the sidecar holds it and it is newer than the ring's
	// active key; never a key the SigningKey's spec revokes. Empty when it
	// cannot sign.
	SigningKeyID string `json:"signingKeyID"`
	// AnnouncedKeyID is the active key id the sidecar last read from the
	// SigningKey's status through the API server; empty without a watch or
	// before its first list.
	AnnouncedKeyID string `json:"announcedKeyID,omitempty"`
	// Directory is the user directory as loaded; nil before the first load.
	Directory *DirectoryState `json:"directory"`
	// RevocationsResourceVersion is the resourceVersion up to which the
	// sidecar has seen the TokenRevocations of its namespace: every
	// revocation the API server stored at or before it is refused here.
	// Empty without a watch or before its first list.
	RevocationsResourceVersion string `json:"revocationsResourceVersion,omitempty"`
	// APIKeysLastUsed is, per JackAPIKey status.id, the start of the last
	// hour (UTC) in which this sidecar accepted the key; the operator
	// gathers it into status.lastUsed, so that no request writes to the API
	// server. Keys never used here are absent.
	APIKeysLastUsed map[string]time.Time `json:"apiKeysLastUsed,omitempty"`
}

// RingState describes a loaded key ring without its key material.
type RingState struct {
	// Version changes whenever the ring does: 16 hex digits of a SHA-256 of
	// the token settings and the keys' ids, algorithms, states and times
	// (keyring.Ring.Digest), never of their material.
	Version string `json:"version"`
	// Keys are the ring's keys, oldest first.
	Keys []KeyStateReport `json:"keys"`
}

// KeyStateReport is one key of a loaded ring.
type KeyStateReport struct {
	ID    string   `json:"id"`
	State KeyState `json:"state"`
}

// DirectoryState describes a loaded user directory without its users.
type DirectoryState struct {
	// Version changes whenever the directory does: 16 hex digits of a
	// SHA-256 of the users' non-secret fields only (ids, emails, names,
	// roles, disabled, password versions and sessionsValidAfter), never of
	// a password hash.
	Version string `json:"version"`
	Users   int    `json:"users"`
}

// Holds reports whether the sidecar's loaded ring has a key with this id.
func (s *SidecarState) Holds(kid string) bool {
	if s == nil || s.Ring == nil {
		return false
	}
	for _, k := range s.Ring.Keys {
		if k.ID == kid {
			return true
		}
	}
	return false
}

// SidecarConfirmPath is where a sidecar's ops port answers GET with a
// Confirmation as JSON: whether it already acts on a change the API server
// holds, so that the operator can tell the sidecar that made the change
// when every replica does. The query names the change, one of:
//
//   - revocation=<TokenRevocation name>&generation=<metadata.generation>:
//     the sidecar refuses the tokens that revocation covers, as of that
//     generation or a later one;
//   - user=<JackUser name>&sessionsValidAfter=<RFC 3339 time>: the sidecar
//     refuses that user's tokens issued before that time;
//   - login=<JackUser name>&id=<status.id>&email=<spec.email>&passwordVersion=<status.passwordVersion>
//     (and disabled=true for a JackUser with spec.disabled): the sidecar
//     logs that user in with the password at that version — its loaded
//     user directory finds the id under that email as a login does
//     (case-insensitively), with a hash of that version, and its watched
//     JackUser, once listed, has that id and version, and neither has the
//     user disabled; with disabled=true, the same entry, with the user
//     disabled by either, so that no login gets past it. The directory is
//     the mounted Secret, which the kubelet brings a minute or more after
//     the operator writes it, so this is what says a new user, a new email
//     or a new password works at this replica.
//
// and wait=<Go duration, at most SidecarConfirmMaxWait> makes the sidecar
// hold the answer until it does, or the wait is over (a login's wait ends
// when the directory file is reloaded, too). A sidecar without API
// credentials answers held at once to every kind. It needs no
// credentials, holds nothing secret, and is on the ops port with /state.
const SidecarConfirmPath = "/confirm"

// SidecarConfirmMaxWait bounds the wait a confirmation may ask for.
const SidecarConfirmMaxWait = 5 * time.Second

// Confirmation is a sidecar's answer at SidecarConfirmPath.
type Confirmation struct {
	// Held is true when the sidecar acts on the change.
	Held bool `json:"held"`
}
