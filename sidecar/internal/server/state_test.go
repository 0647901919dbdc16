package server

import (
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/userdir"
)

func TestTheRingStateListsTheKeysWithoutMaterial(t *testing.T) {
	tm, _ := rotatingTeam(t)
	st := NewKeys(tm.ring).State
	if len(st.Keys) != 2 || st.Keys[0] != (jack.KeyStateReport{ID: "k1", State: jack.KeyActive}) || st.Keys[1] != (jack.KeyStateReport{ID: "k2", State: jack.KeyPublished}) {
		t.Errorf("keys %+v; want k1 Active, then k2 Published", st.Keys)
	}
	if st.Version != tm.ring.Digest() {
		t.Errorf("version %s; want the ring's digest %s", st.Version, tm.ring.Digest())
	}
}

func TestTheDirectoryVersionFollowsEverythingButThePasswordHash(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	base := func() *userdir.Directory {
		return &userdir.Directory{Users: []userdir.User{
			{ID: "staff-1", Email: "sam@example.com", Name: "Sam", Role: jack.RoleStaff, PasswordHash: "$argon2id$one", PasswordVersion: "v1"},
			{ID: "admin-1", Email: "ada@example.com", Name: "Ada", Role: jack.RoleAdmin, PasswordHash: "$argon2id$two", PasswordVersion: "v1", SessionsValidAfter: t0},
		}}
	}
	st := NewUsers(base()).State
	if st.Users != 2 || len(st.Version) != 16 {
		t.Fatalf("state %+v; want 2 users and a 16-digit version", st)
	}
	same := base()
	same.Users[0].PasswordHash = "$argon2id$another"
	same.Users[1].SessionsValidAfter = t0.In(time.FixedZone("CET", 3600))
	if got := NewUsers(same).State.Version; got != st.Version {
		t.Errorf("a new hash alone (or another time zone) changed the version from %s to %s: it must not depend on the hash", st.Version, got)
	}
	for name, change := range map[string]func(u *userdir.User){
		"an id":              func(u *userdir.User) { u.ID = "staff-2" },
		"an email":           func(u *userdir.User) { u.Email = "samuel@example.com" },
		"a name":             func(u *userdir.User) { u.Name = "Samuel" },
		"a role":             func(u *userdir.User) { u.Role = jack.RoleManager },
		"a password version": func(u *userdir.User) { u.PasswordVersion = "v2" },
		"disabled":           func(u *userdir.User) { u.Disabled = true },
		"sessions ended":     func(u *userdir.User) { u.SessionsValidAfter = t0.Add(time.Hour) },
	} {
		t.Run(name, func(t *testing.T) {
			d := base()
			change(&d.Users[0])
			if got := NewUsers(d).State.Version; got == st.Version {
				t.Errorf("the version stayed %s", got)
			}
		})
	}
}

func TestTheDirectoryHoldsALoginAsTheLoginFindsIt(t *testing.T) {
	users := NewUsers(&userdir.Directory{Users: []userdir.User{
		{ID: "staff-1", Email: "Eve@Example.com", Role: jack.RoleStaff, PasswordHash: "$argon2id$one", PasswordVersion: "v2"},
		{ID: "staff-2", Email: "off@example.com", Role: jack.RoleStaff, PasswordHash: "$argon2id$two", PasswordVersion: "v1", Disabled: true},
		{ID: "staff-3", Email: "weak@example.com", Role: jack.RoleStaff, PasswordVersion: "v1"},
	}})
	for name, tc := range map[string]struct {
		id, email, version  string
		holds, wantDisabled bool
	}{
		"the current password":                          {"staff-1", "eve@example.com", "v2", true, false},
		"an email in another case, as a login sends":    {"staff-1", "EVE@example.COM", "v2", true, false},
		"a superseded password version":                 {"staff-1", "eve@example.com", "v1", false, false},
		"a password version not loaded yet":             {"staff-1", "eve@example.com", "v3", false, false},
		"an email the directory does not have yet":      {"staff-1", "eve.new@example.com", "v2", false, false},
		"the email under another id":                    {"staff-9", "eve@example.com", "v2", false, false},
		"a disabled user":                               {"staff-2", "off@example.com", "v1", true, true},
		"an entry without a hash (a too weak password)": {"staff-3", "weak@example.com", "v1", false, false},
	} {
		t.Run(name, func(t *testing.T) {
			if holds, disabled := users.Holds(tc.id, tc.email, tc.version); holds != tc.holds || disabled != tc.wantDisabled {
				t.Errorf("Holds(%s, %s, %s) = %v, disabled %v; want %v, disabled %v", tc.id, tc.email, tc.version, holds, disabled, tc.holds, tc.wantDisabled)
			}
		})
	}
}
