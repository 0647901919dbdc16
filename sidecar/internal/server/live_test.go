package server

import (
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/userdir"
)

type liveView struct {
	users map[string]LiveUser
	known bool
}

func (v liveView) LiveUser(id string) (LiveUser, bool, bool) {
	u, ok := v.users[id]
	return u, ok, v.known
}

func TestTheLiveViewOverridesTheDirectoryWhereItIsNewer(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	entry := userdir.User{ID: "staff-1", Email: "sam@example.com", Role: jack.RoleStaff, PasswordHash: "h", PasswordVersion: "v1", SessionsValidAfter: t0}
	for name, tc := range map[string]struct {
		live            *liveView // nil: no API access
		wantRole        jack.Role
		wantDisabled    bool
		wantValidAfter  time.Time
		wantRefusal     string
		wantPasswordUse bool
	}{
		"no API access: the directory alone": {
			live: nil, wantRole: jack.RoleStaff, wantValidAfter: t0, wantPasswordUse: true,
		},
		"the view not filled yet: the directory alone": {
			live: &liveView{known: false}, wantRole: jack.RoleStaff, wantValidAfter: t0, wantPasswordUse: true,
		},
		"in step": {
			live:     &liveView{known: true, users: map[string]LiveUser{"staff-1": {Role: jack.RoleStaff, PasswordVersion: "v1", SessionsValidAfter: t0}}},
			wantRole: jack.RoleStaff, wantValidAfter: t0, wantPasswordUse: true,
		},
		"promoted": {
			live:     &liveView{known: true, users: map[string]LiveUser{"staff-1": {Role: jack.RoleManager, PasswordVersion: "v1"}}},
			wantRole: jack.RoleManager, wantValidAfter: t0, wantPasswordUse: true,
		},
		"disabled in the view": {
			live:     &liveView{known: true, users: map[string]LiveUser{"staff-1": {Role: jack.RoleStaff, Disabled: true, PasswordVersion: "v1"}}},
			wantRole: jack.RoleStaff, wantDisabled: true, wantValidAfter: t0,
		},
		"sessions ended since the directory": {
			live:     &liveView{known: true, users: map[string]LiveUser{"staff-1": {Role: jack.RoleStaff, PasswordVersion: "v2", SessionsValidAfter: t0.Add(time.Hour)}}},
			wantRole: jack.RoleStaff, wantValidAfter: t0.Add(time.Hour),
		},
		"an older view never moves sessions back": {
			live:     &liveView{known: true, users: map[string]LiveUser{"staff-1": {Role: jack.RoleStaff, PasswordVersion: "v1", SessionsValidAfter: t0.Add(-time.Hour)}}},
			wantRole: jack.RoleStaff, wantValidAfter: t0, wantPasswordUse: true,
		},
		"deleted": {
			live:     &liveView{known: true, users: map[string]LiveUser{}},
			wantRole: jack.RoleStaff, wantValidAfter: t0, wantRefusal: "unknown user",
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := &Server{}
			if tc.live != nil {
				s.live = *tc.live
			}
			got, refusal := s.current(&entry)
			if refusal != tc.wantRefusal {
				t.Fatalf("refusal %q, want %q", refusal, tc.wantRefusal)
			}
			if refusal == "" && (got.Role != tc.wantRole || got.Disabled != tc.wantDisabled || !got.SessionsValidAfter.Equal(tc.wantValidAfter)) {
				t.Errorf("current = role %s disabled %v sessionsValidAfter %s; want %s %v %s",
					got.Role, got.Disabled, got.SessionsValidAfter, tc.wantRole, tc.wantDisabled, tc.wantValidAfter)
			}
			if got := s.passwordCurrent(&entry); got != tc.wantPasswordUse {
				t.Errorf("passwordCurrent = %v, want %v", got, tc.wantPasswordUse)
			}
			if got.ID != entry.ID || got.PasswordHash != entry.PasswordHash {
				t.Error("current changed what the view does not know")
			}
		})
	}
}
