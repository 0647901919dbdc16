package policy

import (
	"strings"
	"testing"
)

func TestRoutesNarrowARoleToSomeOfItsRoutes(t *testing.T) {
	rs, err := CompileRoutes([]string{"GET /api/v1/reports/**", "/api/v1/tasks/*", "POST /api/v1/guests"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		method, path string
		want         bool
	}{
		"a GET under a ** route":                    {"GET", "/api/v1/reports/2026/q1", true},
		"the collection itself under **":            {"GET", "/api/v1/reports", true},
		"a HEAD where GET is allowed":               {"HEAD", "/api/v1/reports/7", true},
		"a DELETE where only GET is allowed":        {"DELETE", "/api/v1/reports/7", false},
		"any method on a route without one":         {"PATCH", "/api/v1/tasks/7", true},
		"a path deeper than the route's *":          {"GET", "/api/v1/tasks/7/notes", false},
		"the route's path in other letter case":     {"POST", "/API/v1/Guests", true},
		"a route of the role the key does not list": {"GET", "/api/v1/settings", false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := rs.Allowed(tc.method, tc.path); got != tc.want {
				t.Errorf("Allowed(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
			}
		})
	}
	var none *Routes
	if !none.Allowed("DELETE", "/api/v1/anything") {
		t.Error("no routes must narrow nothing")
	}
	if n := testing.AllocsPerRun(100, func() { rs.Allowed("GET", "/api/v1/reports/7") }); n != 0 {
		t.Errorf("Allowed allocates %v times", n)
	}
}

func TestCompileRoutesRefusesWithTheRoutesIndex(t *testing.T) {
	for name, tc := range map[string]struct {
		routes []string
		want   string
	}{
		"a lower-case method":       {[]string{"/api/v1/tasks", "get /api/v1/tasks"}, "routes[1]"},
		"no leading slash":          {[]string{"api/v1/tasks"}, `routes[0]: pattern "api/v1/tasks" does not start with "/"`},
		"** before the end":         {[]string{"GET /api/**/tasks"}, "routes[0]"},
		"a partial wildcard":        {[]string{"/api/v1/task*"}, "routes[0]"},
		"two spaces after a method": {[]string{"GET  /api/v1/tasks"}, "routes[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := CompileRoutes(tc.routes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if rs, err := CompileRoutes(nil); rs != nil || err != nil {
		t.Fatalf("no routes: %v, %v", rs, err)
	}
}
