package policy

import (
	"testing"

	"github.com/jack-io/jack-operator/api/jack"
)

func TestClassifyPutsEverySpellingOfTheAPIInTheAPI(t *testing.T) {
	cases := map[string]struct {
		path string
		want Area
	}{
		"the web app's root is public":                     {"/", AreaPublic},
		"an asset is public":                               {"/assets/app.js", AreaPublic},
		"a page that merely contains api is public":        {"/docs/api", AreaPublic},
		"a short first segment is public":                  {"/ap", AreaPublic},
		"the API collection":                               {"/api/v1/tasks", AreaAPI},
		"the API prefix itself":                            {"/api", AreaAPI},
		"the API version itself":                           {"/api/v1", AreaAPI},
		"the API prefix in upper case":                     {"/API/v1/settings", AreaAPI},
		"the API prefix in mixed case":                     {"/Api/V1/Settings", AreaAPI},
		"the API prefix with a format suffix":              {"/api.json", AreaAPI},
		"a first segment starting with api":                {"/apidocs", AreaAPI},
		"another API version":                              {"/api/v2/tasks", AreaAPI},
		"a collection named like the auth API, elsewhere":  {"/api/v1/tasks/auth/login", AreaAPI},
		"a collection starting with auth":                  {"/api/v1/authors", AreaAPI},
		"the login":                                        {"/api/v1/auth/login", AreaLogin},
		"the login in upper case":                          {"/API/V1/AUTH/LOGIN", AreaLogin},
		"the refresh":                                      {"/api/v1/auth/refresh", AreaRefresh},
		"the logout in mixed case":                         {"/api/v1/Auth/LogOut", AreaLogout},
		"the auth API's root":                              {"/api/v1/auth", AreaAuthOther},
		"an unknown auth endpoint":                         {"/api/v1/auth/me", AreaAuthOther},
		"the login with a format suffix":                   {"/api/v1/auth/login.json", AreaAuthOther},
		"something below the login":                        {"/api/v1/auth/login/x", AreaAuthOther},
		"the auth API with a format suffix":                {"/api/v1/auth.json", AreaAuthOther},
		"the auth API with a format suffix and a endpoint": {"/api/v1/auth.json/logout", AreaAuthOther},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Classify(tc.path); got != tc.want {
				t.Errorf("Classify(%q) = %d, want %d", tc.path, got, tc.want)
			}
		})
	}
}

func TestRulesMatchEveryCaseOfAPath(t *testing.T) {
	cases := map[string]struct {
		role    jack.Role
		path    string
		allowed bool
	}{
		"staff reach tasks spelled in upper case":             {jack.RoleStaff, "/API/V1/TASKS", true},
		"staff reach a task spelled in mixed case":            {jack.RoleStaff, "/Api/v1/Tasks/AbC", true},
		"staff do not reach settings spelled in upper case":   {jack.RoleStaff, "/API/v1/SETTINGS", false},
		"a manager does not reach users in mixed case":        {jack.RoleManager, "/api/V1/Users/7", false},
		"admin reach settings spelled in upper case":          {jack.RoleAdmin, "/API/V1/SETTINGS", true},
		"a format suffix matches no literal rule":             {jack.RoleManager, "/api/v1/tasks.json", false},
		"a format suffix on a member matches the member rule": {jack.RoleStaff, "/api/v1/tasks/7.json", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Default().Allowed(tc.role, "GET", tc.path); got != tc.allowed {
				t.Errorf("Allowed(%s, GET, %s) = %v, want %v", tc.role, tc.path, got, tc.allowed)
			}
		})
	}
}

func TestAnUpperCasePatternMatchesEveryCase(t *testing.T) {
	p, err := Parse([]byte("version: policy.auth.jack.io/v1\nrules:\n- roles: [staff]\n  methods: [GET]\n  paths: [/api/v1/Reports]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/reports", "/API/V1/REPORTS", "/api/v1/Reports"} {
		if !p.Allowed(jack.RoleStaff, "GET", path) {
			t.Errorf("%s is refused", path)
		}
	}
}
