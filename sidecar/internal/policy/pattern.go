package policy

import (
	"errors"
	"fmt"
	"strings"
)

type segmentKind uint8

const (
	literal segmentKind = iota
	anySegment
	anyRest // "**": zero or more segments, last only
)

type segment struct {
	kind segmentKind
	// slashLiteral is a literal segment with its leading "/", as it appears
	// in a path.
	slashLiteral string
}

// pattern is a compiled path pattern, matched against paths that
// NormalizePath accepted.
type pattern struct {
	segments []segment
}

// compilePattern checks a path pattern and splits it once, so that matching
// needs no allocation and no regular expression.
func compilePattern(src string) (pattern, error) {
	if !strings.HasPrefix(src, "/") {
		return pattern{}, errors.New(`does not start with "/"`)
	}
	if src == "/" {
		return pattern{}, nil
	}
	parts := strings.Split(src[1:], "/")
	p := pattern{segments: make([]segment, 0, len(parts))}
	for i, part := range parts {
		switch {
		case part == "":
			return pattern{}, errors.New(`has an empty segment ("//" or a trailing "/"); ` +
				`to cover a collection and its members write /collection/**`)
		case part == "**":
			if i != len(parts)-1 {
				return pattern{}, errors.New(`has "**" before its last segment; "**" may only end a pattern`)
			}
			p.segments = append(p.segments, segment{kind: anyRest})
		case part == "*":
			p.segments = append(p.segments, segment{kind: anySegment})
		case strings.Contains(part, "*"):
			return pattern{}, fmt.Errorf(`has segment %q; "*" and "**" stand for whole segments`, part)
		case strings.Trim(part, ".") == "":
			return pattern{}, fmt.Errorf(`has segment %q; dot segments are refused in requests and can never match`, part)
		default:
			for j := 0; j < len(part); j++ {
				if !unreserved[part[j]] {
					// Requests are matched as sent, still escaped; only these
					// characters mean the same encoded or not.
					return pattern{}, fmt.Errorf(`has segment %q; a literal segment may hold only letters, digits, "-", ".", "_" and "~" `+
						`(use "*" for a variable segment such as an id)`, part)
				}
			}
			// Matched case-insensitively (see Canonical): kept in lower case.
			p.segments = append(p.segments, segment{kind: literal, slashLiteral: "/" + strings.ToLower(part)})
		}
	}
	return p, nil
}

// match reports whether a normalized path ("/" or "/seg/…/seg" with no
// empty segment) matches the pattern. It walks the path once, comparing in
// place.
func (p *pattern) match(path string) bool {
	rest := path // the segments not yet matched, each with its leading "/"
	if rest == "/" {
		rest = ""
	}
	for _, s := range p.segments {
		switch s.kind {
		case anyRest:
			return true
		case anySegment:
			if len(rest) < 2 || rest[1] == '/' {
				return false
			}
			if i := strings.IndexByte(rest[1:], '/'); i >= 0 {
				rest = rest[1+i:]
			} else {
				rest = ""
			}
		default:
			n := len(s.slashLiteral)
			if len(rest) < n || !equalFoldASCII(rest[:n], s.slashLiteral) || (len(rest) > n && rest[n] != '/') {
				return false
			}
			rest = rest[n:]
		}
	}
	return rest == ""
}

// equalFoldASCII reports whether s, folded to lower case in ASCII only,
// equals lower. Only ASCII is folded: a path segment accepted by
// NormalizePath holds ASCII alone (other bytes are percent-encoded), and
// Unicode folding ("ſ" is "s" to some routers) would only widen a match.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
