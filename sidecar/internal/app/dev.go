package app

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// KeysInit writes a development key ring with one active key: what the
// operator would put in a SigningKey's Secret, for running without Kubernetes.
func KeysInit(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys init", flag.ContinueOnError)
	out := fs.String("out", "", "The key ring file to write (e.g. dev/keyring.json).")
	alg := fs.String("algorithm", string(jack.AlgorithmHS256), "HS256, HS384, HS512, RS256, ES256 or EdDSA.")
	ttl := fs.Duration("token-ttl", 24*time.Hour, "Lifetime of the tokens the sidecar issues.")
	issuer := fs.String("issuer", "", "The iss claim of issued tokens, if any.")
	audience := fs.String("audience", "", "The aud claim of issued tokens, if any.")
	force := fs.Bool("force", false, "Replace an existing file (every token signed with it stops working).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("keys init: --out is required")
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return fmt.Errorf("keys init: %s exists; pass --force to replace it", *out)
	}
	if *ttl < time.Minute {
		return errors.New("keys init: --token-ttl must be at least 1m")
	}
	now := time.Now().UTC().Truncate(time.Second)
	k, err := keyring.Generate(jack.Algorithm(*alg), "dev-"+now.Format("20060102-150405"))
	if err != nil {
		return fmt.Errorf("keys init: %w", err)
	}
	k.State, k.PublishedAt, k.ActivatedAt, k.MaxTokenTTL = jack.KeyActive, now, now, *ttl
	ring := &keyring.Ring{TokenTTL: *ttl, Issuer: *issuer, Audience: *audience, Keys: []keyring.Key{k}}
	data, err := ring.Marshal()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, data); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stdout, "wrote %s: key %s (%s), tokens valid %s\n", *out, k.ID, k.Algorithm, *ttl)
	return nil
}

// UsersAdd adds or replaces a user in a directory file, reading the password
// from standard input so it appears in no command line or shell history.
func UsersAdd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("users add", flag.ContinueOnError)
	file := fs.String("file", "", "The user directory file to create or update (e.g. dev/users.json.gz).")
	email := fs.String("email", "", "The user's email.")
	name := fs.String("name", "", "The user's display name.")
	role := fs.String("role", string(jack.RoleStaff), "admin, manager or staff.")
	id := fs.String("id", "", "The user's id, like staff-123; derived from the role and email when empty.")
	minLength := fs.Int("min-password-length", password.DefaultMinLength, "The shortest password accepted.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *file == "" || *email == "" || *name == "":
		return errors.New("users add: --file, --email and --name are required; the password is read from standard input")
	case !slices.Contains(jack.Roles, jack.Role(*role)):
		return fmt.Errorf("users add: --role must be one of %v", jack.Roles)
	}
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("users add: reading the password: %w", err)
	}
	pw = strings.TrimRight(pw, "\r\n")
	if err := password.CheckStrength(pw, *minLength); err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	hash, err := password.Hash(pw, password.DefaultParams)
	if err != nil {
		return err
	}
	dir := &userdir.Directory{}
	if data, err := os.ReadFile(*file); err == nil {
		if dir, err = userdir.Decode(data); err != nil {
			return fmt.Errorf("users add: %s: %w", *file, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	u := userdir.User{ID: *id, Email: strings.ToLower(*email), Name: *name, Role: jack.Role(*role),
		PasswordHash: hash, PasswordVersion: time.Now().UTC().Format("20060102150405")}
	if u.ID == "" {
		u.ID = fmt.Sprintf("%s-%d", *role, len(dir.Users)+1)
	}
	dir.Users = slices.DeleteFunc(dir.Users, func(x userdir.User) bool { return strings.EqualFold(x.Email, u.Email) })
	for _, other := range dir.Users {
		if other.ID == u.ID {
			return fmt.Errorf("users add: another user already has the id %s; pass --id", u.ID)
		}
	}
	dir.Users = append(dir.Users, u)
	data, err := dir.Encode()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*file, data); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stdout, "%s: %s (%s) as %s, %d users\n", *file, u.Email, u.ID, u.Role, len(dir.Users))
	return nil
}

// writeFileAtomic replaces path by rename, as a running sidecar expects.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
