package cluster

import (
	"sync"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/notify"
)

// JackUser is the part of a JackUser the sidecar reads.
type JackUser struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		ID       string    `json:"id"`
		Role     jack.Role `json:"role"`
		Disabled bool      `json:"disabled"`
	} `json:"spec"`
	Status struct {
		ID                 string     `json:"id"`
		SessionsValidAfter *time.Time `json:"sessionsValidAfter"`
		PasswordVersion    string     `json:"passwordVersion"`
	} `json:"status"`
}

func (u *JackUser) id() string {
	if u.Spec.ID != "" {
		return u.Spec.ID
	}
	return u.Status.ID
}

// LiveUser is what the API server last said of a user: the fields of their
// JackUser that the sidecar's server weighs against the user directory
// (server.LiveUser has the same fields; the sidecar's app converts).
type LiveUser struct {
	Role     jack.Role
	Disabled bool
	// SessionsValidAfter is the status time.
	SessionsValidAfter time.Time
	// PasswordVersion is the version of the user's current password.
	PasswordVersion string
}

func (u *JackUser) live() LiveUser {
	l := LiveUser{Role: u.Spec.Role, Disabled: u.Spec.Disabled, PasswordVersion: u.Status.PasswordVersion}
	if u.Status.SessionsValidAfter != nil {
		l.SessionsValidAfter = *u.Status.SessionsValidAfter
	}
	return l
}

// Users is the live view of a namespace's JackUsers, by user id (what a
// token names) and by JackUser name (what the operator asks /confirm
// about). It is a kube.Handler[JackUser], and the server's LiveUsers
// through the app.
type Users struct {
	mu sync.RWMutex
	// byName holds every JackUser that has an id; byID indexes it. Two
	// JackUsers claiming one id (which the operator's webhook refuses) are
	// both kept, so deleting one does not lose the other.
	byName map[string]named
	byID   map[string]string
	known  bool
	// changes is notified after every change, for /confirm's waiters.
	changes notify.Changes
}

type named struct {
	id   string
	user LiveUser
}

// NewUsers returns an empty view, not known until its first Replace.
func NewUsers() *Users {
	return &Users{byName: map[string]named{}, byID: map[string]string{}}
}

// LiveUser reports what the view holds for the user with this id; known is
// false until the view was first filled (server.LiveUsers says more).
func (v *Users) LiveUser(id string) (LiveUser, bool, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	name, ok := v.byID[id]
	if !ok {
		return LiveUser{}, false, v.known
	}
	return v.byName[name].user, true, v.known
}

// SessionsEnded reports whether this sidecar refuses the tokens of the
// JackUser name issued before at: what /confirm answers the operator after
// a user's sessions ended. It does when the view has the JackUser with
// status.sessionsValidAfter at or after at (the server refuses tokens
// issued before the later of that and the directory's), and when the view,
// filled, does not have it at all: a JackUser that was deleted — or that
// has no id yet, so no token names it — has every token refused. Before
// the first list it knows nothing, and says so.
func (v *Users) SessionsEnded(name string, at time.Time) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n, ok := v.byName[name]
	return sessionsEnded(v.known, ok, n.user.SessionsValidAfter, at)
}

// sessionsEnded is SessionsEnded's decision, for a view that is known (or
// not), has the user (found) and holds validAfter for them.
func sessionsEnded(known, found bool, validAfter, at time.Time) bool {
	switch {
	case !known:
		return false
	case !found:
		return true
	default:
		return !validAfter.Before(at)
	}
}

// PasswordCurrent reports whether the view agrees that the JackUser name,
// with this id, has the password at passwordVersion, and whether it has
// them disabled: what /confirm weighs, with the directory, before it says
// the user logs in here with that password (or is refused as disabled).
// Before the first list the view knows nothing and agrees, disabling
// nobody: the directory decides alone, as at a login
// (server.Server.passwordCurrent). Once filled, a JackUser it does not
// have — deleted, or without an id yet — logs in nowhere.
func (v *Users) PasswordCurrent(name, id, passwordVersion string) (current, disabled bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if !v.known {
		return true, false
	}
	n, ok := v.byName[name]
	if !ok || n.id != id || n.user.PasswordVersion != passwordVersion {
		return false, false
	}
	return true, n.user.Disabled
}

// Changed returns a channel closed at the next change of the view. Take
// it before asking SessionsEnded or PasswordCurrent, so a change in between
// is not missed.
func (v *Users) Changed() <-chan struct{} { return v.changes.Next() }

// Len is the number of users in the view.
func (v *Users) Len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.byID)
}

// Replace implements kube.Handler.
func (v *Users) Replace(items []JackUser) {
	defer v.changes.Notify()
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.byName)
	clear(v.byID)
	for i := range items {
		v.upsertLocked(&items[i])
	}
	v.known = true
}

// Upsert implements kube.Handler.
func (v *Users) Upsert(u JackUser) {
	defer v.changes.Notify()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.deleteLocked(u.Metadata.Name)
	v.upsertLocked(&u)
}

// Delete implements kube.Handler.
func (v *Users) Delete(u JackUser) {
	defer v.changes.Notify()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.deleteLocked(u.Metadata.Name)
}

// upsertLocked adds u. A JackUser without an id yet (the operator has not
// seen it) is left out: no token or directory entry can name it.
func (v *Users) upsertLocked(u *JackUser) {
	id := u.id()
	if id == "" {
		return
	}
	v.byName[u.Metadata.Name] = named{id: id, user: u.live()}
	v.byID[id] = u.Metadata.Name
}

func (v *Users) deleteLocked(name string) {
	old, ok := v.byName[name]
	if !ok {
		return
	}
	delete(v.byName, name)
	if v.byID[old.id] != name {
		return
	}
	delete(v.byID, old.id)
	for other, n := range v.byName {
		if n.id == old.id {
			v.byID[old.id] = other
			return
		}
	}
}
