package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// state reads the sidecar's /state, and returns it with the body as sent.
func (s *sidecar) state() (jack.SidecarState, string) {
	s.t.Helper()
	resp, err := http.Get(s.ops + jack.SidecarStatePath)
	if err != nil {
		s.t.Fatalf("GET %s: %v", jack.SidecarStatePath, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		s.t.Fatalf("%s answers %d %s: %s", jack.SidecarStatePath, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var st jack.SidecarState
	if err := json.Unmarshal(body, &st); err != nil {
		s.t.Fatalf("%s is not a SidecarState: %v: %s", jack.SidecarStatePath, err, body)
	}
	return st, string(body)
}

// keyStates is a ring's keys as /state lists them.
func keyStates(st jack.SidecarState) string {
	if st.Ring == nil {
		return "no ring"
	}
	var out []string
	for _, k := range st.Ring.Keys {
		out = append(out, k.ID+" "+string(k.State))
	}
	return strings.Join(out, ", ")
}

// secretsOf is every secret a reader of the sidecar's files could find: the
// key material as the ring file spells it (each JWK's "k", and raw) and the
// password hashes (users may be nil).
func secretsOf(t *testing.T, ring *keyring.Ring, users *userdir.Directory) []string {
	t.Helper()
	data, err := ring.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Keys []struct{ K string } }
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, k := range file.Keys {
		raw, err := ring.Keys[i].JWTSecret()
		if err != nil || k.K == "" {
			t.Fatalf("key %d has no secret to look for (%v)", i, err)
		}
		out = append(out, k.K, string(raw), base64.StdEncoding.EncodeToString(raw))
	}
	if users != nil {
		for _, u := range users.Users {
			out = append(out, u.PasswordHash)
		}
	}
	return out
}

func assertNoSecret(t *testing.T, body string, secrets []string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(body, secret) {
			t.Fatalf("/state holds a secret (key material or a password hash): %s", body)
		}
	}
	if strings.Contains(body, "argon2id") {
		t.Fatalf("/state holds a password hash: %s", body)
	}
}

func TestTheStateReportsTheRingAndDirectoryAsTheKubeletSwapsThem(t *testing.T) {
	f := newFixture(t)
	s := f.start("--signing-key", "jack")
	before, body := s.state()
	t.Logf("/state of a sidecar without API access: %s", body)
	assertNoSecret(t, body, secretsOf(t, f.ring, f.users))
	if keyStates(before) != "k1 Active" || before.SigningKeyID != "k1" || before.SigningKey != "jack" {
		t.Errorf("before the swap: ring %q, signing with %q, SigningKey %q; want k1 Active, signing with k1, jack", keyStates(before), before.SigningKeyID, before.SigningKey)
	}
	if before.Directory == nil || before.Directory.Users != 3 || before.Ring.Version == "" || before.Directory.Version == "" {
		t.Errorf("before the swap: directory %+v, ring version %q; want 3 users and both versions", before.Directory, before.Ring.Version)
	}
	if before.AnnouncedKeyID != "" || before.RevocationsResourceVersion != "" {
		t.Errorf("without API access /state reports announced %q, revocations at %q; want neither", before.AnnouncedKeyID, before.RevocationsResourceVersion)
	}

	// The operator promotes k2 and retires k1; the kubelet swaps the file.
	now := time.Now().UTC().Truncate(time.Second)
	k2, err := keyring.Generate(jack.AlgorithmHS256, "k2")
	if err != nil {
		t.Fatal(err)
	}
	k2.State, k2.PublishedAt, k2.ActivatedAt, k2.MaxTokenTTL = jack.KeyActive, now, now, time.Hour
	f.ring.Keys[0].State, f.ring.Keys[0].RetiredAt = jack.KeyRetired, now
	f.ring.Keys = append(f.ring.Keys, k2)
	f.keys.Update(map[string][]byte{jack.SecretKeyKeyRing: f.ringBytes()})
	var after jack.SidecarState
	poll.Within(t, 15*time.Second, "/state shows the swapped ring", func() bool {
		after, body = s.state()
		return keyStates(after) == "k1 Retired, k2 Active"
	})
	if after.SigningKeyID != "k2" || after.Ring.Version == before.Ring.Version {
		t.Errorf("after the swap: signing with %q, ring version %s (was %s); want k2 and a new version", after.SigningKeyID, after.Ring.Version, before.Ring.Version)
	}
	if after.Directory.Version != before.Directory.Version {
		t.Errorf("the directory's version changed with the key ring: %s, was %s", after.Directory.Version, before.Directory.Version)
	}
	assertNoSecret(t, body, secretsOf(t, f.ring, f.users))
	if kid := kidOf(t, loginToken(t, s, "sam@example.com", f.pws["sam@example.com"])); kid != "k2" {
		t.Errorf("a login after the swap is signed with %s; want k2, as /state says", kid)
	}

	f.updateUser("staff-1", func(u *userdir.User) { u.Role, u.PasswordVersion = jack.RoleManager, "2" })
	poll.Within(t, 15*time.Second, "/state shows the changed directory", func() bool {
		st, _ := s.state()
		return st.Directory.Version != before.Directory.Version
	})
}

// kidOf reads the kid of a token's header.
func kidOf(t testing.TB, tok string) string {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("a token's header is not base64url: %v", err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatalf("a token's header is not JSON: %v", err)
	}
	return h.Kid
}

// describeState is what a failure says of a state.
func describeState(st jack.SidecarState) string {
	return fmt.Sprintf("ring %q, signing with %q, announced %q", keyStates(st), st.SigningKeyID, st.AnnouncedKeyID)
}
