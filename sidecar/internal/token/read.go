package token

import (
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

// header is what Verify reads of a token's header.
type header struct {
	alg, kid []byte
	hasKid   bool
}

// parseHeader reads a JOSE header. alg and kid must be strings, and appear
// once; a header with crit is refused, since no extension is understood
// (RFC 7515 §4.1.11). Other members are checked as JSON and ignored.
func parseHeader(b []byte) (header, *refusal) {
	var h header
	s := scanner{b: b}
	if !s.open() {
		return h, errHeaderJSON
	}
	var hasAlg bool
	for {
		name, st := s.next()
		switch st {
		case nextEnd:
			return h, nil
		case nextBad:
			return h, errHeaderJSON
		}
		var ok bool
		switch string(name) {
		case "alg":
			if hasAlg {
				return h, errHeaderMember
			}
			h.alg, ok = s.value()
			hasAlg = true
		case "kid":
			if h.hasKid {
				return h, errHeaderMember
			}
			h.kid, ok = s.value()
			h.hasKid = true
		case "crit":
			return h, errCritical
		default:
			if !s.skip() {
				return h, errHeaderJSON
			}
			continue
		}
		if !ok {
			return h, errHeaderMember
		}
	}
}

// The claims parseClaims reads, as bits.
const (
	claimSub = 1 << iota
	claimEmail
	claimName
	claimRole
	claimIat
	claimNbf
	claimExp
	claimJti
	claimIss
	claimAud
	claimSid
	claimAuthTime
	claimSgen
)

// The session claims' members as Sign writes them, for parseSigned.
const (
	signedSid      = `,"` + jack.ClaimSessionID + `":"`
	signedAuthTime = `,"` + jack.ClaimAuthTime + `":`
	signedSgen     = `,"` + jack.ClaimSessionGeneration + `":`
)

// parseClaims reads the claims of a genuine token. Each claim it knows must
// appear at most once and have its type: a string (aud too: a single one),
// a NumericDate for iat, nbf, exp and auth_time, where 0 means absent as in
// golang-jwt, or a plain integer from 0 to MaxSessionGeneration for sgen.
// Other members are checked as JSON and ignored. Whether the session claims
// fit together is checkClaims' business.
func parseClaims(b []byte) (Claims, *refusal) {
	str := string(b) // the one allocation: every claim is a substring of it
	if c, ok := parseSigned(b, str); ok {
		return c, nil
	}
	return parseAnyClaims(b, str)
}

// parseSigned reads claims laid out exactly as Sign writes them, which is
// nearly every token: the members in Sign's order, without whitespace, and
// strings of printable ASCII without escapes. The session claims are
// optional, so that tokens signed before sessions existed take this path
// too. It reads them in one pass without looking names up, and gives up at
// the first byte that departs from that layout. Whatever it reads,
// parseAnyClaims would read the same way; it is only faster.
func parseSigned(b []byte, str string) (c Claims, ok bool) {
	s := scanner{b: b}
	var role string
	var iat, nbf, exp, authTime int64
	ok = s.literal(`{"sub":"`) && s.plain(str, &c.Subject) &&
		s.literal(`,"email":"`) && s.plain(str, &c.Email) &&
		s.literal(`,"name":"`) && s.plain(str, &c.Name) &&
		s.literal(`,"role":"`) && s.plain(str, &role) &&
		s.literal(`,"iat":`) && s.date(&iat) &&
		s.literal(`,"nbf":`) && s.date(&nbf) &&
		s.literal(`,"exp":`) && s.date(&exp) &&
		s.literal(`,"jti":"`) && s.plain(str, &c.ID) &&
		(!s.literal(signedSid) || s.plain(str, &c.SessionID) &&
			s.literal(signedAuthTime) && s.date(&authTime) &&
			s.literal(signedSgen) && s.generation(&c.SessionGeneration)) &&
		(!s.literal(`,"iss":"`) || s.plain(str, &c.Issuer)) &&
		(!s.literal(`,"aud":"`) || s.plain(str, &c.Audience)) &&
		s.literal("}") && s.i == len(b)
	if !ok {
		return Claims{}, false
	}
	c.Role = jack.Role(role)
	c.IssuedAt, c.NotBefore, c.ExpiresAt = unixTime(iat), unixTime(nbf), unixTime(exp)
	c.AuthTime = unixTime(authTime)
	return c, true
}

// unixTime is a NumericDate as a time, where 0 is the zero time: absent, as
// golang-jwt has it.
func unixTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// parseAnyClaims reads claims in any layout.
func parseAnyClaims(b []byte, str string) (Claims, *refusal) {
	var c Claims
	s := scanner{b: b}
	if !s.open() {
		return c, errClaimsJSON
	}
	var seen int
	for {
		name, st := s.next()
		switch st {
		case nextEnd:
			return c, nil
		case nextBad:
			return c, errClaimsJSON
		}
		var bit int
		var text *string
		var date *time.Time
		var count *int64
		switch string(name) {
		case "sub":
			bit, text = claimSub, &c.Subject
		case "email":
			bit, text = claimEmail, &c.Email
		case "name":
			bit, text = claimName, &c.Name
		case "role":
			bit, text = claimRole, (*string)(&c.Role)
		case "jti":
			bit, text = claimJti, &c.ID
		case "iss":
			bit, text = claimIss, &c.Issuer
		case "aud":
			bit, text = claimAud, &c.Audience
		case "iat":
			bit, date = claimIat, &c.IssuedAt
		case "nbf":
			bit, date = claimNbf, &c.NotBefore
		case "exp":
			bit, date = claimExp, &c.ExpiresAt
		case jack.ClaimSessionID:
			bit, text = claimSid, &c.SessionID
		case jack.ClaimAuthTime:
			bit, date = claimAuthTime, &c.AuthTime
		case jack.ClaimSessionGeneration:
			bit, count = claimSgen, &c.SessionGeneration
		default:
			if !s.skip() {
				return c, errClaimsJSON
			}
			continue
		}
		if seen&bit != 0 {
			return c, errClaimMember
		}
		seen |= bit
		var ok bool
		switch {
		case text != nil:
			*text, ok = s.text(str)
		case date != nil:
			var n int64
			n, ok = s.numericDate()
			*date = unixTime(n)
		default:
			ok = s.generation(count)
		}
		if !ok {
			return c, errClaimMember
		}
	}
}
