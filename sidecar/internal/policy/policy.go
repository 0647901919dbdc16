package policy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/jack-io/jack-operator/api/jack"
)

// Version identifies this file format. Readers refuse any other version.
const Version = "policy.auth.jack.io/v1"

// anyMethod, alone in a rule's methods, stands for every method.
const anyMethod = "*"

// Policy is a parsed, compiled access policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	file   file
	byRole map[jack.Role][]*rule
}

type rule struct {
	anyMethod bool
	methods   []string
	patterns  []pattern
}

// file is the shape of a policy file.
type file struct {
	Version string     `json:"version"`
	Rules   []fileRule `json:"rules"`
}

type fileRule struct {
	Roles   []jack.Role `json:"roles"`
	Methods []string    `json:"methods"`
	Paths   []string    `json:"paths"`
}

//go:embed default.yaml
var defaultFile []byte

// defaultPolicy is parsed when the program starts, so a broken default.yaml
// fails every test of every importer rather than a request in production.
var defaultPolicy = func() *Policy {
	p, err := Parse(defaultFile)
	if err != nil {
		panic(fmt.Sprintf("policy: the embedded default.yaml does not parse: %v", err))
	}
	return p
}()

// Default returns Jack's seed policy: admin may call everything under
// /api/v1/, manager conversations, tasks, guests and reports, staff
// conversations and tasks. It is shared; a Policy never changes.
func Default() *Policy { return defaultPolicy }

// DefaultFile returns the content of default.yaml, the file Default is parsed
// from, for writing the ConfigMap a cluster starts with.
func DefaultFile() []byte { return bytes.Clone(defaultFile) }

// Parse reads a policy file, YAML or JSON. Errors name the rule by its
// index, like "rules[2].paths[0]", and say what is wrong.
func Parse(data []byte) (*Policy, error) {
	var f file
	// Strict: a misspelt field ("role:", "path:") must not silently leave a
	// rule granting something other than what its author meant.
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("policy is not a valid YAML or JSON policy file: %w", err)
	}
	switch f.Version {
	case Version:
	case "":
		return nil, fmt.Errorf("policy has no version; write version: %s", Version)
	default:
		return nil, fmt.Errorf("policy has version %q; this program reads %q", f.Version, Version)
	}
	if len(f.Rules) == 0 {
		// An empty file (or a ConfigMap key left blank) would refuse every
		// request; that is an outage, never a policy.
		return nil, errors.New("policy has no rules, so it would refuse every request")
	}
	p := &Policy{file: f, byRole: map[jack.Role][]*rule{}}
	for i, fr := range f.Rules {
		r, err := compileRule(i, fr)
		if err != nil {
			return nil, err
		}
		for _, role := range fr.Roles {
			if !slices.Contains(p.byRole[role], r) {
				p.byRole[role] = append(p.byRole[role], r)
			}
		}
	}
	return p, nil
}

// compileRule checks and compiles rules[i].
func compileRule(i int, fr fileRule) (*rule, error) {
	r := &rule{}
	if len(fr.Roles) == 0 {
		return nil, fmt.Errorf("rules[%d] has no roles; list the roles it allows, like roles: [admin]", i)
	}
	for j, role := range fr.Roles {
		if !slices.Contains(jack.Roles, role) {
			return nil, fmt.Errorf("rules[%d].roles[%d]: unknown role %q; roles are %s", i, j, role, roleList())
		}
	}
	if len(fr.Methods) == 0 {
		return nil, fmt.Errorf(`rules[%d] has no methods; list them, like methods: [GET, POST], or write methods: ["*"] for every method`, i)
	}
	for j, m := range fr.Methods {
		switch {
		case m == anyMethod:
			if len(fr.Methods) > 1 {
				return nil, fmt.Errorf(`rules[%d].methods[%d]: "*" stands for every method and must be the only one listed`, i, j)
			}
			r.anyMethod = true
		case !isToken(m):
			return nil, fmt.Errorf("rules[%d].methods[%d]: %q is not an HTTP method (a token such as GET or PATCH)", i, j, m)
		case strings.ToUpper(m) != m:
			return nil, fmt.Errorf("rules[%d].methods[%d]: %q must be upper case (%s): HTTP methods are case-sensitive, and clients send them upper case", i, j, m, strings.ToUpper(m))
		default:
			r.methods = append(r.methods, m)
		}
	}
	if len(fr.Paths) == 0 {
		return nil, fmt.Errorf(`rules[%d] has no paths; list path patterns, like paths: ["/api/v1/tasks/**"]`, i)
	}
	for j, src := range fr.Paths {
		pt, err := compilePattern(src)
		if err != nil {
			return nil, fmt.Errorf("rules[%d].paths[%d]: pattern %q %w", i, j, src, err)
		}
		r.patterns = append(r.patterns, pt)
	}
	return r, nil
}

func roleList() string {
	names := make([]string, len(jack.Roles))
	for i, r := range jack.Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Allowed reports whether the policy lets a user with the given role call
// method on path. path is the request's escaped path, r.URL.EscapedPath(),
// never the decoded r.URL.Path; it is normalized (and possibly refused) by
// NormalizePath first. A method that is not an HTTP token, an unknown role
// and a nil Policy are refused. Allowed does not allocate.
func (p *Policy) Allowed(role jack.Role, method, path string) bool {
	if p == nil || !isToken(method) {
		return false
	}
	normalized, ok := NormalizePath(path)
	if !ok {
		return false
	}
	for _, r := range p.byRole[role] {
		if r.allows(method) && r.matches(normalized) {
			return true
		}
	}
	return false
}

func (r *rule) allows(method string) bool {
	if r.anyMethod || slices.Contains(r.methods, method) {
		return true
	}
	// HEAD is a GET without the body: whoever may read a resource may ask
	// about it.
	return method == "HEAD" && slices.Contains(r.methods, "GET")
}

func (r *rule) matches(path string) bool {
	for i := range r.patterns {
		if r.patterns[i].match(path) {
			return true
		}
	}
	return false
}

// Marshal writes the policy in the file format, as indented JSON (which is
// also YAML). The output is deterministic and parses to the same policy;
// comments of the original file are not kept.
func (p *Policy) Marshal() ([]byte, error) {
	return json.MarshalIndent(p.file, "", "  ")
}
