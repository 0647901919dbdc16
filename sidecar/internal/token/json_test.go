package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestStringsDecodeAsEncodingJSONDecodesThem(t *testing.T) {
	cases := map[string]string{
		"plain ASCII":                 `"staff-123"`,
		"empty":                       `""`,
		"longer than eight bytes":     `"https://jack.example.com/some/long/path"`,
		"an escape after eight bytes": `"0123456789\"quoted\""`,
		"every short escape":          `"\" \\ \/ \b \f \n \r \t"`,
		"HTML escapes, as json.Marshal writes them": `"Bob \u003cOps\u003e \u0026 Co"`,
		"a surrogate pair":                          `"\ud83d\ude00"`,
		"a lone high surrogate":                     `"a\ud800b"`,
		"a lone low surrogate":                      `"a\udc00b"`,
		"a high surrogate then an escape":           `"\ud800\n"`,
		"two high surrogates":                       `"\ud800\ud800\udc00"`,
		"NUL":                                       `"\u0000"`,
		"UTF-8":                                     "\"Bj\u00f6rk \u2028 \U0001F600\"",
		"invalid UTF-8":                             "\"a\xffb\xc3\"",
		"a UTF-8 encoded surrogate":                 "\"\xed\xa0\x80\"",
		"invalid UTF-8 at a word boundary":          "\"1234567\xff89\"",
	}
	for name, lit := range cases {
		t.Run(name, func(t *testing.T) {
			var want string
			if err := json.Unmarshal([]byte(lit), &want); err != nil {
				t.Fatalf("encoding/json refuses %q: %v", lit, err)
			}
			s := scanner{b: []byte(lit)}
			got, ok := s.text(lit)
			if !ok || got != want || s.i != len(lit) {
				t.Errorf("text(%q) = %q, %v; encoding/json reads %q", lit, got, ok, want)
			}
		})
	}
}

func TestStringsEncodingJSONRefusesAreRefused(t *testing.T) {
	for name, lit := range map[string]string{
		"unterminated":               `"abc`,
		"unterminated after 8 bytes": `"0123456789`,
		"a raw control character":    "\"a\tb\"",
		"a raw newline late":         "\"01234567\n\"",
		"an unknown escape":          `"\x41"`,
		"a short unicode escape":     `"\u12"`,
		"a non-hex unicode escape":   `"\u12g4"`,
		"a single quote escape":      `"\'"`,
		"a trailing backslash":       `"\`,
	} {
		t.Run(name, func(t *testing.T) {
			var v string
			if json.Unmarshal([]byte(lit), &v) == nil {
				t.Fatalf("encoding/json accepts %q", lit)
			}
			s := scanner{b: []byte(lit)}
			if got, ok := s.text(lit); ok {
				t.Errorf("text(%q) = %q, want a refusal", lit, got)
			}
		})
	}
}

func TestSkippingAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	for name, v := range map[string]string{
		"numbers":               `[0, -0, 1.5, -2.5e-3, 1E+2, 12345678901234567890, 1e308, 1e-400]`,
		"nested":                `{"a": {"b": [true, false, null, "x", {}]}, "": []}`,
		"whitespace":            " [ 1 ,\n\t2 ,\r 3 ] ",
		"an empty object":       `{}`,
		"a string":              `"\u00e9"`,
		"a number out of range": `1e309`,
		"a leading zero":        `01`,
		"a bare minus":          `-`,
		"a trailing comma":      `[1,]`,
		"a missing colon":       `{"a" 1}`,
		"a number without digits after the point": `1.`,
		"an exponent without digits":              `1e+`,
		"true misspelt":                           `ture`,
		"unbalanced":                              `[1}`,
		"an object with a number name":            `{1: 2}`,
	} {
		t.Run(name, func(t *testing.T) {
			doc := []byte(`{"x":` + v + `}`)
			var m map[string]any
			want := json.Unmarshal(doc, &m) == nil
			s := scanner{b: doc}
			got := s.open()
			if got {
				name, st := s.next()
				got = st == nextMember && string(name) == "x" && s.skip()
				if got {
					_, st = s.next()
					got = st == nextEnd
				}
			}
			if got != want {
				t.Errorf("skipping %s: accepted = %v, encoding/json accepts = %v", v, got, want)
			}
		})
	}
}

func TestDecodeSegmentIsStrictBase64URL(t *testing.T) {
	for name, s := range map[string]string{
		"empty":                        "",
		"a full group":                 "YWJj",
		"one byte":                     "YQ",
		"two bytes":                    "YWI",
		"one character over":           "YWJjZ",
		"padding":                      "YQ==",
		"the standard alphabet":        "a+/b",
		"unused bits set":              "YR",
		"unused bits set of two bytes": "YWJ",
		"a line break":                 "YW\nJj",
		"every character":              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	} {
		t.Run(name, func(t *testing.T) {
			checkDecodeSegment(t, s)
		})
	}
}

func checkDecodeSegment(t *testing.T, s string) {
	t.Helper()
	want, err := base64.RawURLEncoding.Strict().DecodeString(s)
	wantOK := err == nil && !strings.ContainsAny(s, "\r\n")
	// Into a buffer of the exact size, and into one with room to spare,
	// as Verify's are.
	for _, room := range []int{0, 8} {
		buf := make([]byte, decodedLen(len(s))+room)
		got, ok := decodeSegment(buf, s)
		if ok != wantOK || ok && !bytes.Equal(got, want) {
			t.Fatalf("decodeSegment(%q) with %d bytes to spare = %x, %v; strict encoding/base64 gives %x, %v", s, room, got, ok, want, wantOK)
		}
	}
	if wantOK && encodedLen(len(want)) != len(s) {
		t.Fatalf("encodedLen(%d) = %d, want %d", len(want), encodedLen(len(want)), len(s))
	}
}

func FuzzDecodeSegment(f *testing.F) {
	for _, s := range []string{"", "YQ", "YWI", "YWJj", "YR", "a+/b", "YQ==", "YW\nJj"} {
		f.Add(s)
	}
	f.Fuzz(checkDecodeSegment)
}

func TestIntegersAreReadOnlyAsSignWritesThem(t *testing.T) {
	cases := map[string]struct {
		lit      string
		date     bool // numericDate reads it
		gen      bool // generation reads it
		want     int64
		consumed int // bytes read when accepted
	}{
		"zero":                              {"0", true, true, 0, 1},
		"a time":                            {"1795744800", true, true, 1795744800, 10},
		"a time followed by a comma":        {"1795744800,", true, true, 1795744800, 10},
		"the last second of year 9999":      {"253402300799", true, true, 253402300799, 12},
		"a second after it":                 {"253402300800", false, true, 253402300800, 12},
		"the highest generation, 2^53-1":    {"9007199254740991", false, true, 9007199254740991, 16},
		"2^53":                              {"9007199254740992", false, false, 0, 0},
		"far beyond int64":                  {"99999999999999999999999999", false, false, 0, 0},
		"a leading zero":                    {"01", false, false, 0, 0},
		"many leading zeros":                {"00000000000000000000000001", false, false, 0, 0},
		"negative":                          {"-1", false, false, 0, 0},
		"negative zero":                     {"-0", false, false, 0, 0},
		"a fraction":                        {"1.0", false, false, 0, 0},
		"an exponent":                       {"1e3", false, false, 0, 0},
		"an upper-case exponent":            {"1E3", false, false, 0, 0},
		"nothing":                           {"", false, false, 0, 0},
		"a string":                          {`"3"`, false, false, 0, 0},
		"a plus sign":                       {"+3", false, false, 0, 0},
		"whitespace is the caller's to eat": {" 3", false, false, 0, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, r := range []struct {
				what   string
				read   func(*scanner, *int64) bool
				accept bool
			}{
				{"numericDate", (*scanner).date, tc.date},
				{"generation", (*scanner).generation, tc.gen},
			} {
				s := scanner{b: []byte(tc.lit)}
				var n int64
				ok := r.read(&s, &n)
				if ok != r.accept || ok && (n != tc.want || s.i != tc.consumed) {
					t.Errorf("%s(%q) = %d, %v, read %d bytes; want %d, %v, %d bytes", r.what, tc.lit, n, ok, s.i, tc.want, r.accept, tc.consumed)
				}
			}
		})
	}
}
