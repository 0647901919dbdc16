// Package loadfixture writes what the load scripts under hack/ start a
// sidecar with: a key ring and a directory of staff users who share one
// password, laid out as the sidecar's --keys and --users files, and logs
// one of them in once the sidecar serves them.
package loadfixture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// Password is every user's password.
const Password = "load test password"

// Files are the paths Write wrote, for --keys and --users.
type Files struct{ Keys, Users string }

// Write writes a one-key HS256 ring and users staff-0 … staff-<n-1>
// (user<i>@example.com) into dir.
func Write(dir string, n int) (Files, error) {
	now := time.Now().UTC().Truncate(time.Second)
	k, err := keyring.Generate(jack.AlgorithmHS256, "k1")
	if err != nil {
		return Files{}, err
	}
	k.State, k.PublishedAt, k.ActivatedAt = jack.KeyActive, now, now
	ring := &keyring.Ring{TokenTTL: time.Hour, Keys: []keyring.Key{k}}
	ringJSON, err := ring.Marshal()
	if err != nil {
		return Files{}, err
	}
	hash, err := password.Hash(Password, password.DefaultParams)
	if err != nil {
		return Files{}, err
	}
	users := &userdir.Directory{}
	for i := range n {
		users.Users = append(users.Users, userdir.User{ID: fmt.Sprintf("staff-%d", i), Email: Email(i),
			Name: "User", Role: jack.RoleStaff, PasswordHash: hash, PasswordVersion: "1"})
	}
	usersData, err := users.Encode()
	if err != nil {
		return Files{}, err
	}
	f := Files{Keys: filepath.Join(dir, "keyring.json"), Users: filepath.Join(dir, "users.json.gz")}
	if err := os.WriteFile(f.Keys, ringJSON, 0o600); err != nil {
		return Files{}, err
	}
	if err := os.WriteFile(f.Users, usersData, 0o600); err != nil {
		return Files{}, err
	}
	return f, nil
}

// Email is the address of user i.
func Email(i int) string { return fmt.Sprintf("user%d@example.com", i) }

// Login logs user i in at the sidecar serving baseURL (http://host:port)
// and returns their token, as a client of Jack would get one.
func Login(baseURL string, i int) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": Email(i), "password": Password})
	resp, err := http.Post(baseURL+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK || answer.Data.Token == "" {
		return "", fmt.Errorf("logging %s in at %s: %s (%v)", Email(i), baseURL, resp.Status, err)
	}
	return answer.Data.Token, nil
}
