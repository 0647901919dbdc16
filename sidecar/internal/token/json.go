package token

import "strconv"

// The decoder below reads the two flat JSON objects of a token without
// reflection, and allocates only to decode a string with escapes. It accepts
// exactly the JSON that encoding/json accepts (and that golang-jwt therefore
// accepts) and decodes strings exactly as encoding/json does. What it
// refuses on purpose is in the package documentation: nesting deeper than
// maxDepth, NumericDates that are not plain integers and, in the callers,
// members read twice or of the wrong type.

// maxDepth bounds how deeply a token's JSON may nest, counting the top-level
// object as 1. encoding/json allows 10000; Jack's tokens nest 1 deep, and the
// bound lets skip keep its stack in one word.
const maxDepth = 64

// maxNumericDate is 9999-12-31T23:59:59Z: the last second of four-digit
// years, far beyond any real token, and small enough that no arithmetic on it
// overflows.
const maxNumericDate = 253402300799

type scanner struct {
	b     []byte
	i     int
	first bool // no member read yet
}

// What next found.
const (
	nextMember = iota
	nextEnd
	nextBad
)

func (s *scanner) ws() {
	for s.i < len(s.b) && s.b[s.i] <= ' ' {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// open starts the top-level object.
func (s *scanner) open() bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.first = true
	return true
}

// next reads the name of the top-level object's next member and its colon,
// leaving the value to be read; or the object's end, after which only
// whitespace may follow. A name is returned decoded.
func (s *scanner) next() ([]byte, int) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, nextBad
	}
	switch c := s.b[s.i]; {
	case c == '}':
		s.i++
		s.ws()
		if s.i != len(s.b) {
			return nil, nextBad
		}
		return nil, nextEnd
	case s.first:
		s.first = false
	case c == ',':
		s.i++
		s.ws()
	default:
		return nil, nextBad
	}
	raw, flags, ok := s.str()
	if !ok {
		return nil, nextBad
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return nil, nextBad
	}
	s.i++
	s.ws()
	return decoded(raw, flags), nextMember
}

// numericDate reads a NumericDate (RFC 7519): only a plain integer of seconds
// from 0 to maxNumericDate, which is all Sign writes. Fractions, exponents
// and negative values are refused though RFC 7519 allows them: they are
// never ours, and golang-jwt turns them into times in ways (truncation,
// float to integer conversion) that nobody should have to reason about.
func (s *scanner) numericDate() (int64, bool) {
	return s.integer(maxNumericDate)
}

// date reads a NumericDate into n.
func (s *scanner) date(n *int64) (ok bool) {
	*n, ok = s.numericDate()
	return ok
}

// generation reads a session generation (sgen) into n: a plain integer from
// 0 to MaxSessionGeneration, for the same reasons as a NumericDate.
func (s *scanner) generation(n *int64) (ok bool) {
	*n, ok = s.integer(MaxSessionGeneration)
	return ok
}

// integer reads a plain integer from 0 to limit, which must be below
// math.MaxInt64/10: digits without sign, leading zero, fraction or
// exponent.
func (s *scanner) integer(limit int64) (int64, bool) {
	b, i := s.b, s.i
	var n int64
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		if n = n*10 + int64(b[i]-'0'); n > limit {
			return 0, false
		}
		i++
	}
	switch digits := i - s.i; {
	case digits == 0:
		return 0, false
	case digits > 1 && b[s.i] == '0':
		return 0, false // a leading zero: not even JSON
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return 0, false
	}
	s.i = i
	return n, true
}

// number reads a number, which must start at s.i, checking its syntax.
// plain reports an integer without sign, fraction or exponent.
func (s *scanner) number() (plain, ok bool) {
	b, i := s.b, s.i
	plain = true
	if i < len(b) && b[i] == '-' {
		plain = false
		i++
	}
	switch {
	case i >= len(b):
		return false, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return false, false
	}
	if i < len(b) && b[i] == '.' {
		plain = false
		if i++; i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, false
		}
		i = digits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		plain = false
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, false
		}
		i = digits(b, i)
	}
	s.i = i
	return plain, true
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// skip reads a member's value of any type, checking it as encoding/json does:
// a token may carry claims this package does not read, and they must be
// valid JSON all the same.
func (s *scanner) skip() bool {
	var open uint64 // one bit per open container, 1 for an object
	depth := 1      // the top-level object
	for {
		// A value starts here.
		if s.i >= len(s.b) {
			return false
		}
		switch c := s.b[s.i]; c {
		case '{', '[':
			if depth == maxDepth {
				return false
			}
			s.i++
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == c+2 { // '}' or ']'
				s.i++
				break
			}
			depth++
			open <<= 1
			if c == '{' {
				open |= 1
				if !s.nestedName() {
					return false
				}
			}
			continue
		case '"':
			if _, _, ok := s.str(); !ok {
				return false
			}
		case 't':
			if !s.literal("true") {
				return false
			}
		case 'f':
			if !s.literal("false") {
				return false
			}
		case 'n':
			if !s.literal("null") {
				return false
			}
		default:
			start := s.i
			if _, ok := s.number(); !ok || !fitsFloat64(s.b[start:s.i]) {
				return false
			}
		}
		// A value ended: close what ends here, then find the next value.
		for {
			if depth == 1 {
				return true
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			c, object := s.b[s.i], open&1 == 1
			if object && c == '}' || !object && c == ']' {
				s.i++
				open >>= 1
				depth--
				continue
			}
			if c != ',' {
				return false
			}
			s.i++
			s.ws()
			if object && !s.nestedName() {
				return false
			}
			break
		}
	}
}

// nestedName reads a name and colon inside a skipped object.
func (s *scanner) nestedName() bool {
	if _, _, ok := s.str(); !ok {
		return false
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return false
	}
	s.i++
	s.ws()
	return true
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// fitsFloat64 reports whether encoding/json could decode a number into an
// interface{}, as golang-jwt does with every number of a token: it refuses a
// number beyond float64's range, so this decoder must too.
func fitsFloat64(num []byte) bool {
	if len(num) <= 15 {
		plain := true
		for _, c := range num {
			plain = plain && c != 'e' && c != 'E'
		}
		if plain {
			return true // at most 15 digits: far below 1.8e308
		}
	}
	_, err := strconv.ParseFloat(string(num), 64)
	return err == nil
}
