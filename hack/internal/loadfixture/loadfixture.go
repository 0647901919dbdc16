// Package loadfixture writes what the load scripts under hack/ start a
// sidecar with: a key ring and a directory of staff users who share one
// password, laid out as the sidecar's --keys and --users files.
package loadfixture

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/token"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// Password is every user's password.
const Password = "load test password"

// Files are the paths Write wrote, for --keys and --users.
type Files struct{ Keys, Users string }

// Write writes a one-key HS256 ring and users staff-0 … staff-<n-1>
// (user<i>@example.com) into dir, and returns a token of user n/2.
func Write(dir string, n int) (Files, string, error) {
	now := time.Now().UTC().Truncate(time.Second)
	k, err := keyring.Generate(jack.AlgorithmHS256, "k1")
	if err != nil {
		return Files{}, "", err
	}
	k.State, k.PublishedAt, k.ActivatedAt = jack.KeyActive, now, now
	ring := &keyring.Ring{TokenTTL: time.Hour, Keys: []keyring.Key{k}}
	ringJSON, err := ring.Marshal()
	if err != nil {
		return Files{}, "", err
	}
	hash, err := password.Hash(Password, password.DefaultParams)
	if err != nil {
		return Files{}, "", err
	}
	users := &userdir.Directory{}
	for i := range n {
		users.Users = append(users.Users, userdir.User{ID: fmt.Sprintf("staff-%d", i), Email: fmt.Sprintf("user%d@example.com", i),
			Name: "User", Role: jack.RoleStaff, PasswordHash: hash, PasswordVersion: "1"})
	}
	usersData, err := users.Encode()
	if err != nil {
		return Files{}, "", err
	}
	f := Files{Keys: filepath.Join(dir, "keyring.json"), Users: filepath.Join(dir, "users.json.gz")}
	if err := os.WriteFile(f.Keys, ringJSON, 0o600); err != nil {
		return Files{}, "", err
	}
	if err := os.WriteFile(f.Users, usersData, 0o600); err != nil {
		return Files{}, "", err
	}
	tok, _, err := token.Sign(ring, subjectOf(users.Users[n/2]), now)
	return f, tok, err
}

func subjectOf(u userdir.User) token.Subject {
	return token.Subject{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role}
}
