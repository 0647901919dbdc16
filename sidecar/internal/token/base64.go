package token

import "encoding/binary"

// decode64 maps a base64url character (RFC 4648 §5) to its six bits, and any
// other byte to 0xff.
var decode64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeShifted[k][c] is the six bits of c shifted to where they go as the
// k-th of four characters in a 24-bit group; an invalid c sets the top byte.
// Four small tables let a group decode with a load and an or per character.
var decodeShifted = func() (t [4][256]uint32) {
	for k := range t {
		for c := range 256 {
			if v := decode64[c]; v == 0xff {
				t[k][c] = 0xff000000
			} else {
				t[k][c] = uint32(v) << (18 - 6*k)
			}
		}
	}
	return t
}()

// decodedLen is the number of bytes n characters of unpadded base64 decode
// to.
func decodedLen(n int) int { return n/4*3 + n%4*3/4 }

// encodedLen is the number of unpadded base64 characters n bytes encode to.
func encodedLen(n int) int { return n/3*4 + (n%3*8+5)/6 }

// decodeSegment decodes s, a JWS segment, into dst, which must hold
// decodedLen(len(s)) bytes, and returns that part of dst; the rest of dst
// may be overwritten. It works on the token string itself, where
// encoding/base64 would need it copied into a []byte first.
//
// Only the canonical encoding is accepted: unpadded base64url whose unused
// trailing bits are zero, with no line breaks (encoding/base64 skips CR and
// LF, even in strict mode). So every decoded segment has exactly one
// spelling, and nobody can make a token that differs in its text but not in
// its meaning, for instance to slip past a list of revoked tokens.
func decodeSegment(dst []byte, s string) ([]byte, bool) {
	if len(s)%4 == 1 {
		return nil, false
	}
	out := dst[:decodedLen(len(s))]
	t0, t1, t2, t3 := &decodeShifted[0], &decodeShifted[1], &decodeShifted[2], &decodeShifted[3]
	i, j := 0, 0
	// Eight characters at a time, stored as one word, while dst has room
	// for the two bytes of it that the next round overwrites.
	for ; len(s)-i >= 8 && len(dst)-j >= 8; i, j = i+8, j+6 {
		q := s[i : i+8]
		hi := t0[q[0]] | t1[q[1]] | t2[q[2]] | t3[q[3]]
		lo := t0[q[4]] | t1[q[5]] | t2[q[6]] | t3[q[7]]
		if (hi|lo)>>24 != 0 {
			return nil, false
		}
		binary.BigEndian.PutUint64(dst[j:], uint64(hi)<<40|uint64(lo)<<16)
	}
	for ; len(s)-i >= 4; i, j = i+4, j+3 {
		q := s[i : i+4]
		v := t0[q[0]] | t1[q[1]] | t2[q[2]] | t3[q[3]]
		if v>>24 != 0 {
			return nil, false
		}
		o := out[j : j+3 : j+3]
		o[0], o[1], o[2] = byte(v>>16), byte(v>>8), byte(v)
	}
	s = s[i:]
	switch len(s) {
	case 2:
		a, b := decode64[s[0]], decode64[s[1]]
		if a|b == 0xff || b&0x0f != 0 {
			return nil, false
		}
		out[j] = a<<2 | b>>4
	case 3:
		a, b, c := decode64[s[0]], decode64[s[1]], decode64[s[2]]
		if a|b|c == 0xff || c&0x03 != 0 {
			return nil, false
		}
		out[j] = a<<2 | b>>4
		out[j+1] = b<<4 | c>>2
	}
	return out, true
}
