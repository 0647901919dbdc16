package password

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// DefaultMinLength is the shortest password accepted unless configured
// otherwise, in characters. Length is the one rule that reliably makes a
// password harder to guess (NIST SP 800-63B); composition rules mostly
// produce "Password1!".
const DefaultMinLength = 12

// CheckStrength refuses a password shorter than minLength characters.
// Characters are Unicode code points, not bytes, so a password in any
// script needs as many keystrokes: counting bytes would let four CJK
// characters pass a minimum of 12. An empty password is always refused.
// The error states the rule, never the password or its length.
func CheckStrength(password string, minLength int) error {
	if !utf8.ValidString(password) {
		// A login request is JSON, which carries only UTF-8: such a
		// password could never be typed at the login.
		return errors.New("the password is not valid UTF-8 text")
	}
	if utf8.RuneCountInString(password) < max(minLength, 1) {
		return fmt.Errorf("the password is too short: it must have at least %d characters", max(minLength, 1))
	}
	return nil
}
