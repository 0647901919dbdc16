package server

import (
	"slices"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// LiveUser is what the API server last said of a user (their JackUser),
// which the sidecar learns within a second by watching, where the mounted
// user directory takes the kubelet a minute or more to refresh.
type LiveUser struct {
	Role     jack.Role
	Disabled bool
	// SessionsValidAfter is the status time, rounded up to the second.
	SessionsValidAfter time.Time
	// PasswordVersion is the version of the user's current password; a
	// directory entry with another one holds a superseded or not yet
	// current hash.
	PasswordVersion string
}

// LiveUsers is the watched view of the namespace's users.
type LiveUsers interface {
	// LiveUser reports what the view holds for the user with this id. known
	// is false until the view has been filled from the API server once: the
	// directory alone decides until then. Once known, it stays so while the
	// API server is unreachable (the last state seen still holds), and a
	// user the view does not have was deleted.
	LiveUser(id string) (u LiveUser, found, known bool)
}

// Signing is what the API server last said of the sidecar's SigningKey,
// which the sidecar learns within a second by watching, where the mounted
// key ring takes the kubelet a minute or more: which key its status
// announces as active (so every replica signs with it at once after a
// promotion), and which keys its spec revokes (so none verifies or signs
// again, before the ring without them arrives).
type Signing interface {
	// Announced returns status.activeKeyID and spec.revokedKeyIDs, which
	// the caller must not change. known is false until the SigningKey was
	// first listed; both are empty then, and the ring decides alone.
	Announced() (activeKeyID string, revoked []string, known bool)
}

// keyRevoked reports whether the SigningKey revokes the key with this id.
func (s *Server) keyRevoked(kid string) bool {
	if s.signing == nil {
		return false
	}
	_, revoked, _ := s.signing.Announced()
	return slices.Contains(revoked, kid)
}

// current is the user the directory entry u describes, as of the live view:
// what is newer in the view (disabled, role, ended sessions) wins. It says
// why the user cannot be served, if so: "unknown user" when the JackUser is
// gone though the directory still has them.
func (s *Server) current(u *userdir.User) (userdir.User, string) {
	cur := *u
	if s.live == nil {
		return cur, ""
	}
	l, found, known := s.live.LiveUser(u.ID)
	switch {
	case !known:
		return cur, ""
	case !found:
		return cur, "unknown user"
	}
	cur.Role = l.Role
	cur.Disabled = cur.Disabled || l.Disabled
	if l.SessionsValidAfter.After(cur.SessionsValidAfter) {
		cur.SessionsValidAfter = l.SessionsValidAfter
	}
	return cur, ""
}

// passwordCurrent reports whether the directory entry's hash is for the
// user's current password as far as the live view knows. After a password
// change the view learns the new version before the kubelet brings the new
// hash, and the old password must not log in meanwhile: the user is refused
// until the directory catches up, even with the new password.
func (s *Server) passwordCurrent(u *userdir.User) bool {
	if s.live == nil {
		return true
	}
	l, found, known := s.live.LiveUser(u.ID)
	return !known || found && !l.Disabled && l.PasswordVersion == u.PasswordVersion
}
