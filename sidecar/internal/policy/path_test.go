package policy

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/jack-io/jack-operator/api/jack"
)

func TestNormalizePath(t *testing.T) {
	cases := map[string]struct {
		in   string
		want string // "" when refused
	}{
		"a plain path is kept":                         {"/api/v1/tasks/42", "/api/v1/tasks/42"},
		"the root is kept":                             {"/", "/"},
		"a query is cut off":                           {"/api/v1/tasks?page=2", "/api/v1/tasks"},
		"a query holding a path is cut off":            {"/api/v1/tasks?next=/api/v1/settings/../x", "/api/v1/tasks"},
		"a trailing slash is dropped":                  {"/api/v1/tasks/", "/api/v1/tasks"},
		"a trailing slash before a query is dropped":   {"/api/v1/tasks/?page=2", "/api/v1/tasks"},
		"case is kept":                                 {"/API/v1/Tasks", "/API/v1/Tasks"},
		"an encoded space stays encoded":               {"/api/v1/tasks/a%20b", "/api/v1/tasks/a%20b"},
		"encoded UTF-8 stays encoded":                  {"/api/v1/guests/Jos%C3%A9", "/api/v1/guests/Jos%C3%A9"},
		"sub-delimiters, colons and at signs are kept": {"/api/v1/users/a@b.c:x,y=z+1!", "/api/v1/users/a@b.c:x,y=z+1!"},
		"a segment of three dots is refused":           {"/api/v1/.../x", ""},
		"a segment with dots and more is kept":         {"/api/v1/tasks/..x", "/api/v1/tasks/..x"},
		"an empty path is refused":                     {"", ""},
		"only a query is refused":                      {"?x=1", ""},
		"a relative path is refused":                   {"api/v1/tasks", ""},
		"an absolute URL is refused":                   {"http://jack/api/v1/tasks", ""},
		"an asterisk request target is refused":        {"*", ""},
		"a dot-dot segment is refused":                 {"/api/v1/tasks/../settings", ""},
		"a trailing dot-dot is refused":                {"/api/v1/tasks/..", ""},
		"a trailing dot-dot with a slash is refused":   {"/api/v1/tasks/../", ""},
		"a dot segment is refused":                     {"/api/v1/./tasks", ""},
		"a doubled slash is refused":                   {"/api/v1//tasks", ""},
		"a leading doubled slash is refused":           {"//api/v1/tasks", ""},
		"a doubled trailing slash is refused":          {"/api/v1/tasks//", ""},
		"only slashes are refused":                     {"//", ""},
		"an encoded dot-dot is refused":                {"/api/v1/tasks/%2e%2e/settings", ""},
		"an upper-case encoded dot-dot is refused":     {"/api/v1/tasks/%2E%2E/settings", ""},
		"a half-encoded dot-dot is refused":            {"/api/v1/tasks/.%2e/settings", ""},
		"an encoded letter is refused":                 {"/api/v1/%74asks", ""},
		"an encoded slash is refused":                  {"/api/v1/tasks/..%2Fsettings", ""},
		"a lower-case encoded slash is refused":        {"/api/v1/tasks/a%2fb", ""},
		"an encoded backslash is refused":              {"/api/v1/tasks/..%5Csettings", ""},
		"a raw backslash is refused":                   {`/api/v1/tasks/..\settings`, ""},
		"a double-encoded dot-dot is refused":          {"/api/v1/tasks/%252e%252e/settings", ""},
		"a path parameter is refused":                  {"/api/v1/tasks/..;/settings", ""},
		"an encoded semicolon is refused":              {"/api/v1/tasks/a%3Bb", ""},
		"an encoded NUL is refused":                    {"/api/v1/tasks/a%00", ""},
		"an encoded line feed is refused":              {"/api/v1/tasks/a%0a", ""},
		"a raw NUL is refused":                         {"/api/v1/tasks/a\x00", ""},
		"a raw space is refused":                       {"/api/v1/tasks/a b", ""},
		"raw UTF-8 is refused":                         {"/api/v1/guests/José", ""},
		"a fragment is refused":                        {"/api/v1/tasks#x", ""},
		"a truncated escape is refused":                {"/api/v1/tasks/a%2", ""},
		"an escape that is not hex is refused":         {"/api/v1/tasks/a%zz", ""},
		"a lone percent sign at the end is refused":    {"/api/v1/tasks/%", ""},
		"square brackets are refused":                  {"/api/v1/tasks/[1]", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := NormalizePath(tc.in)
			if ok != (tc.want != "") || got != tc.want {
				t.Errorf("NormalizePath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.want != "")
			}
		})
	}
}

// TestBypassAttemptsAreRefused tries to reach what a role may not call
// through paths that a lax matcher would decide on differently from Jack.
func TestBypassAttemptsAreRefused(t *testing.T) {
	staff, manager, admin := jack.RoleStaff, jack.RoleManager, jack.RoleAdmin
	cases := map[string]struct {
		role    jack.Role
		path    string
		allowed bool
	}{
		"staff climbing out of tasks into settings":            {staff, "/api/v1/tasks/../settings", false},
		"staff climbing out of tasks at the end":               {staff, "/api/v1/tasks/42/../../users", false},
		"staff with a harmless dot segment":                    {staff, "/api/v1/./tasks", false},
		"admin with a dot-dot that stays inside /api/v1":       {admin, "/api/v1/tasks/../settings", false},
		"staff climbing with an encoded dot-dot":               {staff, "/api/v1/tasks/%2e%2e/settings", false},
		"staff climbing with a mixed-case encoded dot-dot":     {staff, "/api/v1/tasks/%2E%2e/settings", false},
		"staff climbing with an encoded slash":                 {staff, "/api/v1/tasks/..%2Fsettings", false},
		"staff climbing with an encoded backslash":             {staff, "/api/v1/tasks/..%5Csettings", false},
		"staff climbing with a raw backslash":                  {staff, `/api/v1/tasks/..\settings`, false},
		"staff climbing with a double-encoded dot-dot":         {staff, "/api/v1/tasks/%252e%252e/settings", false},
		"staff climbing through a path parameter":              {staff, "/api/v1/tasks/..;/settings", false},
		"staff with an encoded letter for tasks":               {staff, "/api/v1/%74asks", false},
		"a manager with an encoded letter for settings":        {manager, "/api/v1/%73ettings", false},
		"staff with a doubled slash":                           {staff, "/api/v1//tasks", false},
		"staff with a leading doubled slash":                   {staff, "//api/v1/tasks", false},
		"staff with a doubled slash inside tasks":              {staff, "/api/v1/tasks//42", false},
		"staff with a trailing slash on tasks":                 {staff, "/api/v1/tasks/", true},
		"a manager with a trailing slash on settings":          {manager, "/api/v1/settings/", false},
		"admin with a trailing slash on settings":              {admin, "/api/v1/settings/", true},
		"staff with upper-case letters reach tasks":            {staff, "/API/v1/Tasks", true},
		"staff with an upper-case collection reach tasks":      {staff, "/api/v1/TASKS", true},
		"staff with upper-case settings are refused":           {staff, "/API/v1/SETTINGS", false},
		"a manager with upper-case users is refused":           {manager, "/api/V1/Users", false},
		"admin with an upper-case prefix reach settings":       {admin, "/API/V1/settings", true},
		"staff with a query":                                   {staff, "/api/v1/tasks?page=2", true},
		"staff with settings in the query":                     {staff, "/api/v1/tasks?next=/api/v1/settings", true},
		"a manager with tasks in the query of settings":        {manager, "/api/v1/settings?x=/api/v1/tasks", false},
		"a manager climbing in the query of settings":          {manager, "/api/v1/settings?/../tasks", false},
		"admin with an empty path":                             {admin, "", false},
		"admin with only a query":                              {admin, "?x=1", false},
		"admin with an absolute URL":                           {admin, "http://jack/api/v1/tasks", false},
		"staff with a fragment":                                {staff, "/api/v1/tasks#/../settings", false},
		"staff with an encoded NUL":                            {staff, "/api/v1/tasks/42%00", false},
		"staff with a line feed":                               {staff, "/api/v1/tasks/42%0d%0aX-Jack-Role:admin", false},
		"staff with a collection that only shares a prefix":    {staff, "/api/v1/tasks-archive", false},
		"staff with an encoded character inside a member name": {staff, "/api/v1/tasks/a%20b", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, method := range []string{"GET", "POST"} {
				if got := Default().Allowed(tc.role, method, tc.path); got != tc.allowed {
					t.Errorf("Allowed(%s, %s, %q) = %v, want %v", tc.role, method, tc.path, got, tc.allowed)
				}
			}
		})
	}
}

// allocRequests are decisions of every kind: allowed, refused by the table,
// refused as unsafe, with a query, for an unknown role.
var allocRequests = []struct {
	role         jack.Role
	method, path string
}{
	{jack.RoleStaff, "GET", "/api/v1/tasks/42/notes"},
	{jack.RoleStaff, "HEAD", "/api/v1/conversations"},
	{jack.RoleStaff, "DELETE", "/api/v1/settings"},
	{jack.RoleManager, "PATCH", "/api/v1/reports/q3?format=csv"},
	{jack.RoleAdmin, "POST", "/api/v1/users/"},
	{jack.RoleStaff, "GET", "/api/v1/tasks/%2e%2e/settings"},
	{"root", "GET", "/api/v1/tasks"},
}

func TestAllowedDoesNotAllocate(t *testing.T) {
	p := mustParse(t, customYAML)
	for _, pol := range []*Policy{Default(), p} {
		allocs := testing.AllocsPerRun(1000, func() {
			for _, r := range allocRequests {
				pol.Allowed(r.role, r.method, r.path)
			}
		})
		if allocs != 0 {
			t.Errorf("Allowed allocates %v times per round", allocs)
		}
	}
}

func BenchmarkAllowed(b *testing.B) {
	cases := map[string]struct {
		role         jack.Role
		method, path string
	}{
		"staff reading a task's notes":     {jack.RoleStaff, "GET", "/api/v1/tasks/42/notes"},
		"staff refused settings":           {jack.RoleStaff, "DELETE", "/api/v1/settings"},
		"a manager reading a report":       {jack.RoleManager, "GET", "/api/v1/reports/q3?format=csv"},
		"staff refused an encoded dot-dot": {jack.RoleStaff, "GET", "/api/v1/tasks/%2e%2e/settings"},
		"admin creating a user":            {jack.RoleAdmin, "POST", "/api/v1/users"},
	}
	p := Default()
	for name, tc := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Allowed(tc.role, tc.method, tc.path)
			}
		})
	}
}

func FuzzAllowed(f *testing.F) {
	for _, r := range allocRequests {
		f.Add(r.method, r.path)
	}
	for _, p := range []string{
		"/api/v1/tasks/../settings", "/api/v1/tasks/..%2Fsettings", "/api/v1/tasks/..;/x", "/api/v1/tasks//",
		"/api/v1/conversations/%C3%A9?x", "/api/v1/tasks/", "/", "", "/api/v1/tasks%2F..%2Fsettings",
	} {
		f.Add("GET", p)
	}
	f.Fuzz(func(t *testing.T, method, p string) {
		staff := Default().Allowed(jack.RoleStaff, method, p)
		admin := Default().Allowed(jack.RoleAdmin, method, p)
		normalized, ok := NormalizePath(p)
		if !ok {
			if staff || admin {
				t.Fatalf("%q is refused by NormalizePath but allowed", p)
			}
			return
		}
		// Whatever is accepted must mean the same to a server that decodes
		// before routing and cleans the path: no dot segments, no extra
		// slashes, no backslashes once decoded.
		decoded, err := url.PathUnescape(normalized)
		if err != nil {
			t.Fatalf("NormalizePath accepted %q, which does not decode: %v", normalized, err)
		}
		if path.Clean(decoded) != decoded || strings.ContainsAny(decoded, `\;`) ||
			strings.Count(decoded, "/") != strings.Count(normalized, "/") {
			t.Fatalf("NormalizePath accepted %q, which decodes to %q", normalized, decoded)
		}
		if again, ok := NormalizePath(normalized); !ok || again != normalized {
			t.Fatalf("NormalizePath is not idempotent: %q, then %q", normalized, again)
		}
		if staff && !under(normalized, "/api/v1/conversations") && !under(normalized, "/api/v1/tasks") {
			t.Fatalf("staff may %s %q (%q), outside conversations and tasks", method, p, normalized)
		}
		if admin && !under(normalized, "/api/v1") {
			t.Fatalf("admin may %s %q (%q), outside /api/v1", method, p, normalized)
		}
	})
}

// under reports whether p is the collection c or below it; a shared prefix
// like /api/v1/tasks-archive is not.
// under compares as rules match: ASCII case folded, nothing else.
func under(p, c string) bool {
	p, c = asciiLower(p), asciiLower(c)
	return p == c || strings.HasPrefix(p, c+"/")
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}
