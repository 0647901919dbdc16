package token

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON strings, read as encoding/json reads them, and as fast as a token's
// short ASCII strings allow.

// What a string held besides plain ASCII.
const (
	strEscape = 1 << iota // a backslash escape
	strHigh               // a byte of 0x80 or more
)

// plainByte marks bytes that may appear in a JSON string as they are and need
// no decoding: ASCII from the space up, but '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string, which must start at s.i, checking it as encoding/json
// does. It returns the bytes between the quotes and what they hold besides
// plain ASCII.
func (s *scanner) str() (raw []byte, flags int, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, 0, false
	}
	start := s.i + 1
	i := start
	for i < len(s.b) {
		// Most strings are short runs of printable ASCII: find the first
		// byte that is not one eight bytes at a time.
		if len(s.b)-i >= 8 {
			m := special8(binary.LittleEndian.Uint64(s.b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		c := s.b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return s.b[start:i], flags, true
		case plainByte[c]:
			i++
		case c == '\\':
			flags |= strEscape
			if i+1 >= len(s.b) {
				return nil, 0, false
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(s.b) || hex4(s.b[i+2:i+6]) < 0 {
					return nil, 0, false
				}
				i += 6
			default:
				return nil, 0, false
			}
		case c < ' ':
			return nil, 0, false
		default:
			flags |= strHigh
			i++
		}
	}
	return nil, 0, false
}

// special8 marks, in the top bit of each byte, the bytes of w (eight bytes
// of a string, little-endian) that are a quote, a backslash, a control
// character or above ASCII: zero when there is none. The lowest mark is
// always exact, so its position is that of the first such byte; marks above
// it may be false. (The classic tricks: (x-0x01…) &^ x & 0x80… marks the zero
// bytes of x, and (x-0x20…) &^ x the bytes below 0x20.)
func special8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((w-ones*' ')&^w | (quote-ones)&^quote | (backslash-ones)&^backslash | w) & highs
}

// text reads a string value of the claims, whose whole decoded text is str.
// A string that needs no decoding is a substring of str, so reading a token's
// claims allocates nothing but str.
func (s *scanner) text(str string) (string, bool) {
	start := s.i + 1
	raw, flags, ok := s.str()
	if !ok {
		return "", false
	}
	if flags == 0 || flags == strHigh && utf8.Valid(raw) {
		return str[start : start+len(raw)], true
	}
	var buf [128]byte // enough for most escaped strings, so only the string is allocated
	return string(unquote(buf[:0], raw)), true
}

// value reads a string value of the header.
func (s *scanner) value() ([]byte, bool) {
	raw, flags, ok := s.str()
	return decoded(raw, flags), ok
}

// plain reads a string of printable ASCII without escapes, the opening quote
// already read, into v, a substring of str (the text of s.b). It fails on
// any other string, leaving it to text.
func (s *scanner) plain(str string, v *string) bool {
	i := s.i
	for len(s.b)-i >= 8 {
		m := special8(binary.LittleEndian.Uint64(s.b[i:]))
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) >> 3
		break
	}
	for i < len(s.b) && plainByte[s.b[i]] {
		i++
	}
	if i >= len(s.b) || s.b[i] != '"' {
		return false
	}
	*v = str[s.i:i]
	s.i = i + 1
	return true
}

// decoded is the text of a string whose raw bytes are raw.
func decoded(raw []byte, flags int) []byte {
	if flags == 0 || flags == strHigh && utf8.Valid(raw) {
		return raw
	}
	return unquote(nil, raw)
}

// unquote appends to b the text of the raw bytes of a string that str has
// checked, decoded exactly as encoding/json decodes it: escapes are decoded,
// and invalid UTF-8 and unpaired surrogates each become U+FFFD.
func unquote(b, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch e := raw[i+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := rune(hex4(raw[i+2 : i+6]))
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if pair := utf16.DecodeRune(r, rune(hex4(raw[i+2:i+6]))); pair != unicode.ReplacementChar {
							b = utf8.AppendRune(b, pair)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			b = utf8.AppendRune(b, r)
			i += size
		}
	}
	return b
}

// hex4 is the value of four hex digits, or -1.
func hex4(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		n = n*16 + int(c)
	}
	return n
}
