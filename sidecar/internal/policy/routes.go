package policy

import (
	"fmt"
	"strings"
)

// Routes narrows a role to some of its routes: a JackAPIKey's spec.routes.
// Each route is "/path" (every method) or "METHOD /path", the path a pattern
// in the syntax of a policy file's paths. A request must be allowed by the
// role's rules AND match a route; Routes alone grants nothing.
//
// A nil *Routes is no narrowing: every route of the role. Like a Policy it
// is immutable once compiled, and Allowed does not allocate.
type Routes struct {
	routes []route
}

type route struct {
	method  string // "" for every method
	pattern pattern
}

// CompileRoutes checks and compiles routes; none gives nil, no narrowing.
// Errors name the route by its index, like "routes[2]".
func CompileRoutes(routes []string) (*Routes, error) {
	if len(routes) == 0 {
		return nil, nil
	}
	rs := &Routes{routes: make([]route, 0, len(routes))}
	for i, src := range routes {
		method, path, hasMethod := strings.Cut(src, " ")
		if !hasMethod {
			method, path = "", src
		} else if !isToken(method) || strings.ToUpper(method) != method {
			return nil, fmt.Errorf("routes[%d]: %q is not an upper-case HTTP method; write \"/path\" or \"METHOD /path\", such as \"GET /api/v1/tasks/**\"", i, method)
		}
		pt, err := compilePattern(path)
		if err != nil {
			return nil, fmt.Errorf("routes[%d]: pattern %q %w", i, path, err)
		}
		rs.routes = append(rs.routes, route{method: method, pattern: pt})
	}
	return rs, nil
}

// Allowed reports whether a request for method and path matches one of
// the routes; path is normalized as NormalizePath returned it. HEAD matches
// where GET does, as in a policy.
func (rs *Routes) Allowed(method, path string) bool {
	if rs == nil {
		return true
	}
	for i := range rs.routes {
		r := &rs.routes[i]
		if (r.method == "" || r.method == method || method == "HEAD" && r.method == "GET") && r.pattern.match(path) {
			return true
		}
	}
	return false
}
