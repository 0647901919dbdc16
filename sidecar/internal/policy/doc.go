// Package policy is the role access policy that the verifier sidecar applies
// to every request for Jack's API once the token is verified: which role may
// call which method and path. The sidecar reads it from a file mounted from a
// ConfigMap and reloads it when it changes, so the table changes without
// rebuilding anything. When no file is configured it uses Default, Jack's
// seed table, embedded from default.yaml (which is also the ConfigMap's
// default content).
//
// A policy file is YAML or JSON:
//
//	version: policy.auth.jack.io/v1
//	rules:
//	  - roles: [admin]
//	    methods: ["*"]
//	    paths: ["/api/v1/**"]
//	  - roles: [manager, staff]
//	    methods: [GET, POST]
//	    paths: ["/api/v1/tasks", "/api/v1/tasks/*"]
//
// A request is allowed when one rule lists the caller's role, the request's
// method and a pattern matching its path; everything else is refused (default
// deny). Rules only grant, so their order never changes a decision; it
// matters only in that errors name a rule by its index, like "rules[1]".
// Readers refuse versions they do not know, so the format can change safely.
//
//   - roles are admin, manager and staff (package api/v1alpha1), written
//     exactly so.
//   - methods are HTTP methods, which are case-sensitive: GET, not get; Parse
//     refuses lower case rather than keep a rule no client would match. "*"
//     (quoted in YAML, where a bare * starts an alias) stands for every
//     method and is written alone. HEAD is allowed wherever GET is, since a
//     HEAD is a GET without the body.
//   - paths are patterns matched segment by segment, case-insensitively
//     (ASCII), since some routers Jack may sit on fold case and a rule must
//     cover every spelling that reaches its handler: a literal segment (letters, digits, "-", ".", "_", "~"), "*"
//     for exactly one segment, and, as the last segment only, "**" for zero
//     or more. Zero matters: "/api/v1/tasks/**" matches the collection
//     /api/v1/tasks as well as /api/v1/tasks/7 and /api/v1/tasks/7/notes,
//     because a collection and its members belong together. Patterns start
//     with "/" and have no empty segments (no "//", no trailing "/").
//
// Paths are decided as Jack will route them; see NormalizePath for what is
// refused outright (dot segments, "//", percent-encoded dots, slashes and
// backslashes, …) and why. The auth endpoints /api/v1/auth/login, /refresh
// and /logout are answered by the sidecar itself before the policy is
// consulted and need no rule.
//
// A Policy is immutable once parsed and safe for concurrent use; the sidecar
// swaps a reloaded one in whole. Allowed does not allocate: patterns are
// compiled by Parse.
//
// Used by the sidecar's app (which loads it) and server (which applies it).
package policy
