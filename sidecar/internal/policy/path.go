package policy

import "strings"

// NormalizePath returns the path that a decision is made on, or false when
// the request must be refused whatever the policy says. It takes the path as
// sent, still percent-encoded: r.URL.EscapedPath(), or a forward-auth URI
// such as X-Forwarded-Uri. It never decodes, cleans or rewrites a path
// beyond the two cuts below, because a decision is only sound if it is made
// on the path Jack routes, and anything this function resolved differently
// from Jack (or from a proxy in between) would be a way around the policy.
// So every form that some server might resolve to another path is refused
// instead; no legitimate client sends them. The result is a prefix of the
// input, so it costs no allocation.
//
//   - A query ("?…") is cut off: it is never part of the path. An escaped
//     path cannot hold a literal "?" (it would be %3F), so a "?" can only
//     start the query of a request URI.
//   - One trailing slash is dropped: /api/v1/tasks/ is decided as
//     /api/v1/tasks, the same resource for the routers Jack may sit on, and
//     no pattern can tell them apart anyway (patterns have no trailing "/").
//   - An empty path, or one not starting with "/" (a relative path, an
//     absolute URL like http://jack/api/…, "*"), is refused: it names no
//     route of Jack's API.
//   - "." and ".." segments (any segment of dots only) are refused, not
//     cleaned. Cleaning would decide on /api/v1/settings while a server that
//     does not clean, or cleans differently, routes something else; clients
//     resolve dot segments before sending (RFC 3986 §5.2.4), so only an
//     attack sends them.
//   - Empty segments ("//" anywhere, including a leading "//" and a doubled
//     trailing slash) are refused: routers disagree on them (some collapse
//     them, some redirect, some keep an empty segment).
//   - Percent-encoded characters are kept as sent, except that escapes whose
//     meaning differs between servers that decode before routing and those
//     that do not are refused: an encoded unreserved character (%2e, %2E,
//     %74 for "t", …, which clients never encode, RFC 3986 §2.3), an encoded
//     "/" or "\" (%2F, %5C: a decoding server sees more segments, so
//     /api/v1/tasks/..%2Fsettings would reach settings), "%" itself (%25:
//     double decoding turns %252e into "."), ";" (%3B), controls
//     (%00–%1F, %7F) and malformed escapes. Other escapes (%20, %40,
//     UTF-8 bytes) stay encoded and can match only "*" and "**": a literal
//     pattern segment holds only unreserved characters, so for every path
//     accepted here the decision is the same whether Jack decodes or not.
//   - Raw characters outside RFC 3986's pchar are refused (space, "\",
//     "#", "[", "]", controls, bytes above 0x7F, …), and so is ";", which
//     some servers treat as the start of path parameters they strip before
//     routing (/api/v1/tasks/..;/settings).
//   - Case is kept in the result, but rules match it case-insensitively
//     (ASCII only): routers that fold case (Express, Spring) send
//     /API/v1/Tasks to the tasks handler, so it is decided as
//     /api/v1/tasks. See Classify for which paths are in the API at all.
func NormalizePath(escapedPath string) (string, bool) {
	p, _, _ := strings.Cut(escapedPath, "?")
	if p == "" || p[0] != '/' {
		return "", false
	}
	if len(p) > 1 && p[len(p)-1] == '/' && p[len(p)-2] != '/' {
		p = p[:len(p)-1] // one only: "//" is an empty segment, refused below
	}
	if p == "/" {
		return p, true
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		if !safeSegment(p[start:i]) {
			return "", false
		}
		start = i + 1
	}
	return p, true
}

// safeSegment reports whether one segment of an escaped path means the same
// to every server, whether it decodes before routing or not.
func safeSegment(s string) bool {
	if s == "" {
		return false
	}
	onlyDots := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '.' {
			onlyDots = false
		}
		if c == '%' {
			if i+2 >= len(s) {
				return false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 || !safeEscape(hi<<4|lo) {
				return false
			}
			i += 2
			continue
		}
		if !pathChar[c] {
			return false
		}
	}
	return !onlyDots
}

// safeEscape reports whether a percent-encoded byte may stay encoded.
func safeEscape(b byte) bool {
	switch {
	case unreserved[b]:
		return false // never encoded by clients; %2e%2e is ".." once decoded
	case b == '/', b == '\\', b == '%', b == ';':
		return false
	case b < 0x20, b == 0x7f:
		return false
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unreserved holds RFC 3986's unreserved characters, the only ones a literal
// pattern segment may hold.
var unreserved = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

// pathChar holds the characters a path segment may hold unencoded: RFC
// 3986's pchar without ";" (see NormalizePath) and without "%", which is
// checked as an escape.
var pathChar = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~" + "!$&'()*+,=" + ":@")

// tchar holds the characters of an HTTP token (RFC 9110 §5.6.2), which is
// what a method is.
var tchar = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + "!#$%&'*+-.^_`|~")

func byteSet(chars string) (set [256]bool) {
	for i := 0; i < len(chars); i++ {
		set[chars[i]] = true
	}
	return set
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}
