package policy

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/jack-io/jack-operator/api/jack"
)

// seed is Jack's documented role table, collection by collection: what the
// default policy must grant, and nothing more.
var seed = map[jack.Role]map[string]bool{
	jack.RoleAdmin: {
		"conversations": true, "tasks": true, "guests": true, "reports": true, "settings": true, "users": true,
	},
	jack.RoleManager: {
		"conversations": true, "tasks": true, "guests": true, "reports": true, "settings": false, "users": false,
	},
	jack.RoleStaff: {
		"conversations": true, "tasks": true, "guests": false, "reports": false, "settings": false, "users": false,
	},
}

func TestTheDefaultPolicyIsJacksSeedTable(t *testing.T) {
	if got := slices.Sorted(maps.Keys(seed)); !slices.Equal(got, slices.Sorted(slices.Values(jack.Roles))) {
		t.Fatalf("the seed table covers roles %v; a new role needs its row here", got)
	}
	p := Default()
	for _, role := range jack.Roles {
		for _, collection := range slices.Sorted(maps.Keys(seed[role])) {
			allowed := seed[role][collection]
			for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
				// The collection itself, a member, and something below a member.
				for _, path := range []string{
					"/api/v1/" + collection,
					"/api/v1/" + collection + "/42",
					"/api/v1/" + collection + "/42/notes",
				} {
					verb := "may not"
					if allowed {
						verb = "may"
					}
					t.Run(fmt.Sprintf("%s %s %s %s", role, verb, method, path), func(t *testing.T) {
						if got := p.Allowed(role, method, path); got != allowed {
							t.Errorf("Allowed = %v, want %v", got, allowed)
						}
					})
				}
			}
		}
	}
}

func TestTheDefaultPolicyGrantsNothingElse(t *testing.T) {
	cases := map[string]struct {
		role    jack.Role
		path    string
		allowed bool
	}{
		"admin may call any other route under /api/v1":        {jack.RoleAdmin, "/api/v1/audit/2026", true},
		"admin may call /api/v1 itself":                       {jack.RoleAdmin, "/api/v1", true},
		"admin may not call outside /api/v1":                  {jack.RoleAdmin, "/api/v2/tasks", false},
		"admin may not call the root":                         {jack.RoleAdmin, "/", false},
		"a manager may not call an unlisted route":            {jack.RoleManager, "/api/v1/audit", false},
		"a manager may not call /api/v1 itself":               {jack.RoleManager, "/api/v1", false},
		"staff may not reach a collection sharing a prefix":   {jack.RoleStaff, "/api/v1/tasksettings", false},
		"staff may not reach a route named like a collection": {jack.RoleStaff, "/api/v1/settings/tasks", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Default().Allowed(tc.role, "GET", tc.path); got != tc.allowed {
				t.Errorf("Allowed(%s, GET, %s) = %v, want %v", tc.role, tc.path, got, tc.allowed)
			}
		})
	}
}

func TestDefaultFileIsTheDefaultPolicy(t *testing.T) {
	data := DefaultFile()
	p, err := Parse(data)
	if err != nil {
		t.Fatalf("DefaultFile does not parse: %v", err)
	}
	a, _ := p.Marshal()
	b, _ := Default().Marshal()
	if !bytes.Equal(a, b) {
		t.Errorf("DefaultFile and Default differ:\n%s\n%s", a, b)
	}
	data[0] = '!'
	if again := DefaultFile(); again[0] == '!' {
		t.Error("DefaultFile hands out the embedded bytes, which a caller can change")
	}
}
