package password

import (
	"strings"
	"testing"
)

func TestCheckStrength(t *testing.T) {
	cases := map[string]struct {
		password  string
		minLength int
		wantErr   string // empty when the password passes
	}{
		"12 ASCII characters pass":                            {"abcdefghijkl", DefaultMinLength, ""},
		"11 ASCII characters are too short":                   {"abcdefghijk", DefaultMinLength, "at least 12 characters"},
		"12 Cyrillic letters pass though each is 2 bytes":     {"парольпароль", DefaultMinLength, ""},
		"4 CJK characters are short though they are 12 bytes": {"密码密码", DefaultMinLength, "at least 12 characters"},
		"12 emoji pass": {strings.Repeat("🔑", 12), DefaultMinLength, ""},
		"11 emoji are short though they are 44 bytes":  {strings.Repeat("🔑", 11), DefaultMinLength, "at least 12 characters"},
		"a configured minimum is applied":              {"abcdefghijkl", 16, "at least 16 characters"},
		"a lower configured minimum is applied":        {"abcdefgh", 8, ""},
		"an empty password is refused with no minimum": {"", 0, "at least 1 characters"},
		"text that is not UTF-8 is refused":            {"abcdefghijkl\xff", DefaultMinLength, "not valid UTF-8"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := CheckStrength(tc.password, tc.minLength)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckStrength = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckStrength = %v, want an error saying %q", err, tc.wantErr)
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}
