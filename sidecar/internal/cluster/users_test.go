package cluster

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

func jackUser(t *testing.T, name, doc string) JackUser {
	t.Helper()
	var u JackUser
	if err := json.Unmarshal([]byte(doc), &u); err != nil {
		t.Fatal(err)
	}
	u.Metadata.Name = name
	return u
}

func TestTheUsersViewFollowsJackUsers(t *testing.T) {
	v := NewUsers()
	if _, _, known := v.LiveUser("staff-1"); known {
		t.Fatal("an empty view claims to know")
	}
	sam := jackUser(t, "sam", `{"spec":{"role":"staff"},"status":{"id":"staff-1","passwordVersion":"v1","sessionsValidAfter":"2026-11-27T10:00:01Z"}}`)
	fresh := jackUser(t, "new", `{"spec":{"role":"staff"}}`) // not yet seen by the operator
	v.Replace([]JackUser{sam, fresh})
	u, found, known := v.LiveUser("staff-1")
	if !found || !known || u.Role != jack.RoleStaff || u.PasswordVersion != "v1" || !u.SessionsValidAfter.Equal(time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)) {
		t.Fatalf("after the list: %+v found %v known %v", u, found, known)
	}
	if v.Len() != 1 {
		t.Errorf("Len = %d: a JackUser without an id is in the view", v.Len())
	}

	v.Upsert(jackUser(t, "sam", `{"spec":{"role":"manager","disabled":true},"status":{"id":"staff-1"}}`))
	if u, _, _ := v.LiveUser("staff-1"); u.Role != jack.RoleManager || !u.Disabled {
		t.Errorf("after an update: %+v", u)
	}
	// spec.id wins over status.id, as the operator's EffectiveID.
	v.Upsert(jackUser(t, "max", `{"spec":{"role":"manager","id":"mgr-7"},"status":{"id":"manager-1"}}`))
	if _, found, _ := v.LiveUser("mgr-7"); !found {
		t.Error("spec.id is not the id")
	}

	// Two JackUsers claiming one id (the webhook refuses it, but a view must
	// not lose the survivor when one goes).
	v.Upsert(jackUser(t, "sam-copy", `{"spec":{"role":"admin"},"status":{"id":"staff-1"}}`))
	v.Delete(jackUser(t, "sam-copy", `{}`))
	if _, found, _ := v.LiveUser("staff-1"); !found {
		t.Error("deleting a duplicate lost the user")
	}
	v.Delete(jackUser(t, "sam", `{}`))
	if _, found, known := v.LiveUser("staff-1"); found || !known {
		t.Errorf("after the delete: found %v known %v", found, known)
	}

	// A relist replaces everything.
	v.Replace(nil)
	if _, found, known := v.LiveUser("mgr-7"); found || !known {
		t.Errorf("after an empty relist: found %v known %v", found, known)
	}
}

func TestTheUsersViewSaysWhetherAPasswordIsCurrent(t *testing.T) {
	v := NewUsers()
	if current, disabled := v.PasswordCurrent("eve", "staff-1", "v2"); !current || disabled {
		t.Error("before the first list the view refuses or disables: the directory alone decides until then, as at a login")
	}
	v.Replace([]JackUser{
		jackUser(t, "eve", `{"spec":{"role":"staff"},"status":{"id":"staff-1","passwordVersion":"v2"}}`),
		jackUser(t, "off", `{"spec":{"role":"staff","disabled":true},"status":{"id":"staff-2","passwordVersion":"v1"}}`),
	})
	for name, tc := range map[string]struct {
		name, id, version     string
		current, wantDisabled bool
	}{
		"the current password":                 {"eve", "staff-1", "v2", true, false},
		"a password the view has not seen yet": {"eve", "staff-1", "v3", false, false},
		"a superseded password":                {"eve", "staff-1", "v1", false, false},
		"another id":                           {"eve", "staff-9", "v2", false, false},
		"a JackUser the view does not have":    {"gone", "staff-3", "v1", false, false},
		"a disabled user":                      {"off", "staff-2", "v1", true, true},
	} {
		t.Run(name, func(t *testing.T) {
			if current, disabled := v.PasswordCurrent(tc.name, tc.id, tc.version); current != tc.current || disabled != tc.wantDisabled {
				t.Errorf("PasswordCurrent(%s, %s, %s) = %v, disabled %v; want %v, disabled %v", tc.name, tc.id, tc.version, current, disabled, tc.current, tc.wantDisabled)
			}
		})
	}
}
