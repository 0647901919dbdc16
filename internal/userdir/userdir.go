package userdir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

// Version identifies this file format. Readers refuse any other version.
const Version = "userdir.auth.jack.io/v1"

// MaxSize is the most bytes an encoded (compressed) directory may have: the
// API server refuses a Secret whose data exceeds 1 MiB, and the directory is
// all of its Secret's data.
const MaxSize = 1 << 20

// maxJSONSize bounds the uncompressed JSON a reader accepts, so a tampered
// file cannot make the sidecar inflate gigabytes. Real directories compress
// about fourfold, so this leaves ample room above MaxSize.
const maxJSONSize = 32 << 20

// ErrTooLarge is the error, possibly wrapped, for a directory that does not
// fit in a Secret.
var ErrTooLarge = errors.New("user directory is too large for a Secret")

// Directory is the users of one namespace.
type Directory struct {
	Users []User
}

// User is one person who may log in to Jack, as the sidecar needs to know
// them. The JSON names are those of the file.
type User struct {
	// ID is the user's identity in Jack, like "staff-123", and the subject
	// of their tokens.
	ID string `json:"id"`
	// Email is what the user logs in with. It is compared case-insensitively
	// and written lower-cased.
	Email string    `json:"email"`
	Name  string    `json:"name"`
	Role  jack.Role `json:"role"`
	// PasswordHash is in the format of package internal/password. A user
	// without one cannot log in.
	PasswordHash string `json:"passwordHash,omitempty"`
	// PasswordVersion changes whenever the password does, and reveals
	// nothing about it, so that it can also be published where hashes may
	// not be: a reader that learns the current version sooner than the
	// kubelet refreshes the mounted Secret can tell a superseded hash.
	PasswordVersion string `json:"passwordVersion,omitempty"`
	// Disabled users cannot log in, and their tokens are refused.
	Disabled bool `json:"disabled,omitempty"`
	// SessionsValidAfter is when the user's sessions were last ended; tokens
	// issued before it are refused. Zero when they never were. It is kept to
	// the nanosecond rather than truncated to the second, since truncating
	// would move it earlier and let a token issued in that same second, just
	// before the sessions ended, survive.
	SessionsValidAfter time.Time `json:"sessionsValidAfter,omitzero"`
}

// file is the JSON shape of a directory file.
type file struct {
	Version string `json:"version"`
	Users   []User `json:"users"`
}

// Marshal writes the directory as JSON, the file format before compression. The output is
// deterministic, whatever the order of Users, the case of their emails or
// the time zone of their times, so an unchanged directory is never
// rewritten. It refuses a directory that Parse would refuse, or that would
// not fit in a Secret.
func (d *Directory) Marshal() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	users := make([]User, 0, len(d.Users))
	for _, u := range d.Users {
		users = append(users, normalize(u))
	}
	// Emails are unique, so this order is total.
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(a.Email, b.Email) })

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Escaping <, > and & is for JSON embedded in HTML; here it would only
	// cost bytes a Secret does not have to spare.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(file{Version: Version, Users: users}); err != nil {
		return nil, fmt.Errorf("writing the user directory: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Parse reads a directory file. Errors name a user by id, or by email when
// it has no id, and never quote a hash.
func Parse(data []byte) (*Directory, error) {
	if len(data) > maxJSONSize {
		return nil, fmt.Errorf("%w: its JSON has %d bytes, and a reader accepts at most %d", ErrTooLarge, len(data), maxJSONSize)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		// encoding/json's errors may quote the file, hashes included, so
		// they are described rather than wrapped.
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("user directory is not valid JSON (at byte %d)", syntax.Offset)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("user directory has a %s where %q should be a %s", typ.Value, typ.Field, typ.Type)
		}
		return nil, errors.New("user directory is not valid JSON, or has a time that is not RFC 3339")
	}
	if f.Version != Version {
		return nil, fmt.Errorf("user directory has version %q; this program reads %q", f.Version, Version)
	}
	d := &Directory{Users: make([]User, 0, len(f.Users))}
	for _, u := range f.Users {
		d.Users = append(d.Users, normalize(u))
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Validate checks what every reader relies on: each user has an id and an
// email, no two share either, and every role is known.
func (d *Directory) Validate() error {
	ids := make(map[string]bool, len(d.Users))
	emails := make(map[string]string, len(d.Users)) // lower-cased email → id
	for i, u := range d.Users {
		email := strings.ToLower(u.Email)
		switch {
		case u.ID == "" && email == "":
			return fmt.Errorf("user %d of the directory has no id and no email", i)
		case u.ID == "":
			return fmt.Errorf("user with email %q has no id", email)
		case email == "":
			return fmt.Errorf("user %q has no email", u.ID)
		case ids[u.ID]:
			return fmt.Errorf("two users have the id %q", u.ID)
		}
		if other, ok := emails[email]; ok {
			return fmt.Errorf("users %q and %q have the same email %q", other, u.ID, email)
		}
		ids[u.ID], emails[email] = true, u.ID
		if !slices.Contains(jack.Roles, u.Role) {
			return fmt.Errorf("user %q has role %q; it must be one of %v", u.ID, u.Role, jack.Roles)
		}
		// JSON times have four-digit years; a time zone can push a parsed
		// one out of them.
		if y := u.SessionsValidAfter.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("user %q has a sessionsValidAfter outside the years 0 to 9999", u.ID)
		}
	}
	return nil
}

// normalize gives a user the one spelling the file uses.
func normalize(u User) User {
	u.Email = strings.ToLower(u.Email)
	u.SessionsValidAfter = u.SessionsValidAfter.UTC()
	return u
}
