package policy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jack-io/jack-operator/api/jack"
)

const customYAML = `
version: policy.auth.jack.io/v1
rules:
  # Staff may read reports, one level deep.
  - roles: [staff]
    methods: [GET]
    paths: ["/api/v1/reports", "/api/v1/reports/*"]
  - roles: [staff, manager]
    methods: [POST, PATCH]
    paths: ["/api/v1/tasks/*/comments"]
  - roles: [admin]
    methods: ["*"]
    paths: ["/**"]
`

// customJSON is customYAML written as JSON: both must give the same policy.
const customJSON = `{"version": "policy.auth.jack.io/v1", "rules": [
  {"roles": ["staff"], "methods": ["GET"], "paths": ["/api/v1/reports", "/api/v1/reports/*"]},
  {"roles": ["staff", "manager"], "methods": ["POST", "PATCH"], "paths": ["/api/v1/tasks/*/comments"]},
  {"roles": ["admin"], "methods": ["*"], "paths": ["/**"]}
]}`

func mustParse(t testing.TB, data string) *Policy {
	t.Helper()
	p, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestACustomPolicyDecidesAsWritten(t *testing.T) {
	cases := map[string]struct {
		role    jack.Role
		method  string
		path    string
		allowed bool
	}{
		"staff may read the reports collection":                 {jack.RoleStaff, "GET", "/api/v1/reports", true},
		"staff may read one report":                             {jack.RoleStaff, "GET", "/api/v1/reports/q3", true},
		"staff may HEAD what they may GET":                      {jack.RoleStaff, "HEAD", "/api/v1/reports/q3", true},
		"a trailing slash names the same collection":            {jack.RoleStaff, "GET", "/api/v1/reports/", true},
		"a single star does not reach two segments down":        {jack.RoleStaff, "GET", "/api/v1/reports/q3/raw", false},
		"staff may not write reports":                           {jack.RoleStaff, "POST", "/api/v1/reports", false},
		"a lower-case method is another method":                 {jack.RoleStaff, "get", "/api/v1/reports", false},
		"staff may comment on a task":                           {jack.RoleStaff, "POST", "/api/v1/tasks/7/comments", true},
		"a manager may edit a comment":                          {jack.RoleManager, "PATCH", "/api/v1/tasks/7/comments", true},
		"a star needs a segment to match":                       {jack.RoleStaff, "POST", "/api/v1/tasks/comments", false},
		"a method the rule does not list is refused":            {jack.RoleStaff, "DELETE", "/api/v1/tasks/7/comments", false},
		"HEAD does not follow from methods other than GET":      {jack.RoleStaff, "HEAD", "/api/v1/tasks/7/comments", false},
		"a manager gets nothing the policy does not grant them": {jack.RoleManager, "GET", "/api/v1/reports", false},
		"a double star covers the root too":                     {jack.RoleAdmin, "GET", "/", true},
		"a star method covers extension methods":                {jack.RoleAdmin, "PROPFIND", "/api/v1/x", true},
		"a role name is case-sensitive":                         {"Admin", "GET", "/api/v1/x", false},
		"an unknown role gets nothing":                          {"root", "GET", "/api/v1/x", false},
		"an empty role gets nothing":                            {"", "GET", "/api/v1/x", false},
		"a method that is not a token is refused":               {jack.RoleAdmin, "GE T", "/api/v1/x", false},
		"an empty method is refused":                            {jack.RoleAdmin, "", "/api/v1/x", false},
	}
	yamlPolicy, jsonPolicy := mustParse(t, customYAML), mustParse(t, customJSON)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := yamlPolicy.Allowed(tc.role, tc.method, tc.path); got != tc.allowed {
				t.Errorf("Allowed(%q, %q, %q) = %v, want %v", tc.role, tc.method, tc.path, got, tc.allowed)
			}
			if got := jsonPolicy.Allowed(tc.role, tc.method, tc.path); got != tc.allowed {
				t.Errorf("the JSON form decides Allowed(%q, %q, %q) = %v, want %v", tc.role, tc.method, tc.path, got, tc.allowed)
			}
		})
	}
}

func TestACustomPolicySurvivesARoundTrip(t *testing.T) {
	p := mustParse(t, customYAML)
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(data)
	if err != nil {
		t.Fatalf("parsing what Marshal wrote: %v\n%s", err, data)
	}
	out, _ := again.Marshal()
	if !bytes.Equal(out, data) {
		t.Errorf("marshal is not stable:\n%s\n%s", data, out)
	}
	jsonOut, _ := mustParse(t, customJSON).Marshal()
	if !bytes.Equal(jsonOut, data) {
		t.Errorf("the YAML and JSON forms of one policy marshal differently:\n%s\n%s", data, jsonOut)
	}
	for _, role := range jack.Roles {
		for _, path := range []string{"/api/v1/reports", "/api/v1/reports/1", "/api/v1/tasks/1/comments", "/"} {
			for _, method := range []string{"GET", "HEAD", "POST", "DELETE"} {
				if p.Allowed(role, method, path) != again.Allowed(role, method, path) {
					t.Errorf("after a round trip %s %s %s is decided differently", role, method, path)
				}
			}
		}
	}
}

func TestParseRefusesBrokenPolicies(t *testing.T) {
	rule := func(body string) string {
		return "version: policy.auth.jack.io/v1\nrules:\n  - roles: [staff]\n    methods: [GET]\n    paths: [/api/v1/tasks]\n" + body
	}
	cases := map[string]struct {
		data string
		want string
	}{
		"not YAML": {"version: [", "not a valid YAML or JSON"},
		"not JSON": {`{"version":`, "not a valid YAML or JSON"},
		"an unquoted star, which YAML reads as an alias": {"version: policy.auth.jack.io/v1\nrules:\n- roles: [admin]\n  methods: [*]\n  paths: [/x]\n", "not a valid YAML or JSON"},
		"a misspelt field":                   {rule("  - role: [admin]\n    methods: [GET]\n    paths: [/x]\n"), `unknown field "role"`},
		"no version":                         {"rules: []", "has no version"},
		"an unknown version":                 {"version: policy.auth.jack.io/v2\nrules: []", `has version "policy.auth.jack.io/v2"; this program reads "policy.auth.jack.io/v1"`},
		"the key ring's version":             {`{"version":"keyring.auth.jack.io/v1"}`, `has version "keyring.auth.jack.io/v1"`},
		"no rules":                           {"version: policy.auth.jack.io/v1\n", "no rules"},
		"an empty list of rules":             {"version: policy.auth.jack.io/v1\nrules: []\n", "no rules"},
		"an unknown role":                    {rule("  - roles: [admin, owner]\n    methods: [GET]\n    paths: [/x]\n"), `rules[1].roles[1]: unknown role "owner"; roles are admin, manager, staff`},
		"a role in the wrong case":           {rule("  - roles: [Admin]\n    methods: [GET]\n    paths: [/x]\n"), `rules[1].roles[0]: unknown role "Admin"`},
		"no roles":                           {rule("  - methods: [GET]\n    paths: [/x]\n"), "rules[1] has no roles"},
		"an empty list of roles":             {rule("  - roles: []\n    methods: [GET]\n    paths: [/x]\n"), "rules[1] has no roles"},
		"no methods":                         {rule("  - roles: [admin]\n    paths: [/x]\n"), "rules[1] has no methods"},
		"an empty list of methods":           {rule("  - roles: [admin]\n    methods: []\n    paths: [/x]\n"), "rules[1] has no methods"},
		"a lower-case method":                {rule("  - roles: [admin]\n    methods: [GET, get]\n    paths: [/x]\n"), `rules[1].methods[1]: "get" must be upper case (GET)`},
		"a method with a space":              {rule("  - roles: [admin]\n    methods: [\"GET POST\"]\n    paths: [/x]\n"), `rules[1].methods[0]: "GET POST" is not an HTTP method`},
		"an empty method":                    {rule("  - roles: [admin]\n    methods: [\"\"]\n    paths: [/x]\n"), `rules[1].methods[0]: "" is not an HTTP method`},
		"a star among other methods":         {rule("  - roles: [admin]\n    methods: [GET, \"*\"]\n    paths: [/x]\n"), `rules[1].methods[1]: "*" stands for every method`},
		"no paths":                           {rule("  - roles: [admin]\n    methods: [GET]\n"), "rules[1] has no paths"},
		"an empty list of paths":             {rule("  - roles: [admin]\n    methods: [GET]\n    paths: []\n"), "rules[1] has no paths"},
		"a pattern without a leading slash":  {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [/x, api/v1/tasks]\n"), `rules[1].paths[1]: pattern "api/v1/tasks" does not start with "/"`},
		"an empty pattern":                   {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"\"]\n"), `rules[1].paths[0]: pattern "" does not start with "/"`},
		"a double star before the end":       {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"/api/**/tasks\"]\n"), `rules[1].paths[0]: pattern "/api/**/tasks" has "**" before its last segment`},
		"a doubled slash":                    {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"/api//tasks\"]\n"), `rules[1].paths[0]: pattern "/api//tasks" has an empty segment`},
		"a trailing slash":                   {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"/api/v1/tasks/\"]\n"), `pattern "/api/v1/tasks/" has an empty segment`},
		"a star inside a segment":            {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"/api/v1/task*\"]\n"), `has segment "task*"; "*" and "**" stand for whole segments`},
		"a dot-dot segment":                  {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"/api/v1/tasks/../settings\"]\n"), `has segment ".."`},
		"a route parameter in Express style": {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"/api/v1/tasks/:id\"]\n"), `has segment ":id"; a literal segment may hold only`},
		"a percent escape":                   {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"/api/v1/t%61sks\"]\n"), `has segment "t%61sks"`},
		"a query":                            {rule("  - roles: [admin]\n    methods: [GET]\n    paths: [\"/api/v1/tasks?all=1\"]\n"), `has segment "tasks?all=1"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Parse([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want one saying %q", err, tc.want)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with its error")
			}
		})
	}
}

func TestANilPolicyRefusesEverything(t *testing.T) {
	var p *Policy
	if p.Allowed(jack.RoleAdmin, "GET", "/api/v1/tasks") {
		t.Error("a nil policy allowed a request")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultFile())
	f.Add([]byte(customYAML))
	f.Add([]byte(customJSON))
	f.Add([]byte(`{"version":"policy.auth.jack.io/v1","rules":[{"roles":["staff"],"methods":["GET"],"paths":["/a/*/**"]}]}`))
	f.Add([]byte("version: policy.auth.jack.io/v1\nrules:\n- roles: [admin]\n  methods: [\"*\"]\n  paths: [/]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses must serialize and parse again to the same policy.
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("a parsed policy does not marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("a marshalled policy does not parse: %v\n%s", err, out)
		}
		if out2, _ := again.Marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("marshal is not stable:\n%s\n%s", out, out2)
		}
		for _, role := range jack.Roles {
			p.Allowed(role, "GET", "/api/v1/tasks/1")
		}
	})
}
