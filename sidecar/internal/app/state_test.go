package app

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/internal/version"
	"github.com/jack-io/jack-operator/sidecar/internal/server"
)

// announced is a fixed view of the SigningKey.
type announced struct {
	active  string
	revoked []string
}

func (a announced) Announced() (string, []string, bool) { return a.active, a.revoked, true }

// loaded is a ring of the active key a and the published key b, and a
// directory of one user, as the sidecar holds them once loaded.
func loaded(t *testing.T) (*server.Keys, *server.Users) {
	t.Helper()
	t0 := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	ring := &keyring.Ring{TokenTTL: time.Hour}
	for i, id := range []string{"a", "b"} {
		k, err := keyring.Generate(jack.AlgorithmHS256, id)
		if err != nil {
			t.Fatal(err)
		}
		k.State, k.PublishedAt = []jack.KeyState{jack.KeyActive, jack.KeyPublished}[i], t0.Add(time.Duration(i)*time.Hour)
		ring.Keys = append(ring.Keys, k)
	}
	dir := &userdir.Directory{Users: []userdir.User{{ID: "staff-1", Email: "sam@example.com", Role: jack.RoleStaff, PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", PasswordVersion: "1"}}}
	return server.NewKeys(ring), server.NewUsers(dir)
}

func TestTheStateSaysWhatTheSidecarHoldsAndActsOn(t *testing.T) {
	keys, users := loaded(t)
	ring := []jack.KeyStateReport{{ID: "a", State: jack.KeyActive}, {ID: "b", State: jack.KeyPublished}}
	cases := map[string]struct {
		keys    *server.Keys
		users   *server.Users
		signing server.Signing
		rv      string
		// want is the state but for Ring and Directory, which are checked
		// against the loads.
		want jack.SidecarState
	}{
		"nothing loaded yet": {
			want: jack.SidecarState{SigningKey: "jack"},
		},
		"loaded, without API access: the ring's active key signs": {
			keys: keys, users: users,
			want: jack.SidecarState{SigningKey: "jack", SigningKeyID: "a"},
		},
		"a promotion announced before the kubelet brings it": {
			keys: keys, users: users, signing: announced{active: "b"}, rv: "4711",
			want: jack.SidecarState{SigningKey: "jack", SigningKeyID: "b", AnnouncedKeyID: "b", RevocationsResourceVersion: "4711"},
		},
		"a key announced that the ring lacks": {
			keys: keys, users: users, signing: announced{active: "c"}, rv: "4711",
			want: jack.SidecarState{SigningKey: "jack", SigningKeyID: "a", AnnouncedKeyID: "c", RevocationsResourceVersion: "4711"},
		},
		"the active key revoked, its successor not here: nothing signs": {
			keys: keys, users: users, signing: announced{active: "c", revoked: []string{"a"}},
			want: jack.SidecarState{SigningKey: "jack", AnnouncedKeyID: "c"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := stateOf("jack", tc.keys, tc.users, tc.signing, tc.rv)
			if tc.keys == nil && got.Ring != nil || tc.keys != nil && (got.Ring == nil || got.Ring.Version != keys.Ring.Digest() || !slices.Equal(got.Ring.Keys, ring)) {
				t.Errorf("ring %+v; want the loaded one (%v, version %s)", got.Ring, ring, keys.Ring.Digest())
			}
			if tc.users == nil && got.Directory != nil || tc.users != nil && (got.Directory == nil || *got.Directory != *users.State || got.Directory.Users != 1) {
				t.Errorf("directory %+v; want the loaded one", got.Directory)
			}
			got.Ring, got.Directory = nil, nil
			tc.want.Version = version.Version // in every state, loaded or not
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("state %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestTheStateCarriesNoSecret(t *testing.T) {
	keys, users := loaded(t)
	body, err := json.Marshal(stateOf("jack", keys, users, announced{active: "b"}, "1"))
	if err != nil {
		t.Fatal(err)
	}
	// The material as the ring file holds it (the JWK member "k"), and raw.
	file, err := keys.Ring.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var ring struct{ Keys []struct{ Kid, K string } }
	if err := json.Unmarshal(file, &ring); err != nil {
		t.Fatal(err)
	}
	for i, k := range ring.Keys {
		raw, _ := keys.Ring.Keys[i].JWTSecret()
		if k.K == "" || strings.Contains(string(body), k.K) || strings.Contains(string(body), string(raw)) {
			t.Errorf("/state holds key %s's material (or the test found none to look for): %s", k.Kid, body)
		}
	}
	if hash := users.Dir.Users[0].PasswordHash; strings.Contains(string(body), hash) || strings.Contains(string(body), "argon2id") {
		t.Errorf("/state holds a password hash: %s", body)
	}
}
