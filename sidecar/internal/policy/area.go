package policy

import "strings"

// Area is the part of Jack a request path belongs to, which decides how the
// sidecar treats it before any rule is read.
type Area uint8

const (
	// AreaPublic is outside Jack's API (the web app and its assets): no
	// token is asked for.
	AreaPublic Area = iota
	// AreaAPI is Jack's API: a verified token and a rule for the caller's
	// role are needed.
	AreaAPI
	// AreaLogin, AreaRefresh and AreaLogout are the auth API's endpoints,
	// which the sidecar answers itself.
	AreaLogin
	AreaRefresh
	AreaLogout
	// AreaAuthOther is anything else under the auth API (/api/v1/auth,
	// /api/v1/auth/me, /api/v1/auth.json): the sidecar answers it with 404
	// and never lets it reach Jack, whose own auth routes are retired.
	AreaAuthOther
)

// Classify says which area a path that NormalizePath accepted belongs to.
//
// The canonical form of a path is its ASCII lower case: Express and Spring
// route case-insensitively by default, so /API/v1/Settings may reach the
// settings handler, and it is decided exactly as /api/v1/settings. Any path
// whose first segment starts with "api" in any case (/api, /API/v1/x,
// /api.json, /apidocs) is in the API, so no spelling of the API prefix that
// some router would accept can pass as "not an API path"; the price is that
// Jack cannot serve a public page under such a name. Format suffixes are not
// stripped: /api/v1/settings.json is in the API and matches no literal rule,
// so default deny refuses it unless a "*" or "**" covers it.
func Classify(normalized string) Area {
	first, rest := cutSegment(normalized)
	if len(first) < 3 || !equalFoldASCII(first[:3], "api") {
		return AreaPublic
	}
	if !equalFoldASCII(first, "api") {
		return AreaAPI
	}
	version, rest := cutSegment(rest)
	if !equalFoldASCII(version, "v1") {
		return AreaAPI
	}
	area, rest := cutSegment(rest)
	if !equalFoldASCII(area, "auth") && !(len(area) > 5 && equalFoldASCII(area[:5], "auth.")) {
		return AreaAPI
	}
	endpoint, rest := cutSegment(rest)
	if rest != "" || len(area) != 4 {
		return AreaAuthOther
	}
	switch {
	case equalFoldASCII(endpoint, "login"):
		return AreaLogin
	case equalFoldASCII(endpoint, "refresh"):
		return AreaRefresh
	case equalFoldASCII(endpoint, "logout"):
		return AreaLogout
	}
	return AreaAuthOther
}

// cutSegment splits "/first/rest…" into "first" and "/rest…".
func cutSegment(p string) (segment, rest string) {
	if p == "" || p[0] != '/' {
		return "", ""
	}
	p = p[1:]
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}
