package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/jack-io/jack-operator/internal/password"
)

// generatedPasswordLen is a generated password's length: 24 characters of
// base62 are 142 random bits, and more than any minimum the operator is
// likely to be configured with.
const generatedPasswordLen = 24

// maxPasswordInput bounds what --password-stdin reads: a password, not a file.
const maxPasswordInput = 4096

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// generatePassword returns n characters drawn uniformly from base62 with
// crypto/rand.
func generatePassword(n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("generating a password: %w", err)
		}
		for _, c := range buf {
			// Bytes of 248 and above (62*4) would favour the first characters.
			if c < 62*4 && len(out) < n {
				out = append(out, base62[c%62])
			}
		}
	}
	return string(out), nil
}

// passwordSource is how a verb gets the password it stores: typed into
// standard input, or generated and then printed once.
type passwordSource struct {
	stdin    bool
	generate bool
}

func (p *passwordSource) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.stdin, "password-stdin", false, "Read the password from standard input (one line; a trailing newline is not part of it)")
	cmd.Flags().BoolVar(&p.generate, "generate", false, fmt.Sprintf("Generate a password of %d random letters and digits and print it, once", generatedPasswordLen))
}

// validate asks for exactly one of the two, in a sentence (cobra's flag
// groups answer in Go's list syntax).
func (p *passwordSource) validate() error {
	switch {
	case p.stdin && p.generate:
		return errors.New("give either --password-stdin or --generate, not both")
	case !p.stdin && !p.generate:
		return errors.New("say where the password comes from: --password-stdin (piped in) or --generate (printed once)")
	}
	return nil
}

// get returns the password, and whether it was generated (and so must be
// printed, once). A password read from stdin is refused if empty or not
// UTF-8 (it could never be typed at Jack's login); one shorter than the
// operator's default minimum gets a warning on warn, since the operator,
// whose minimum may be configured otherwise, is the one that decides.
func (p *passwordSource) get(in io.Reader, warn io.Writer) (pw string, generated bool, err error) {
	if p.generate {
		pw, err := generatePassword(generatedPasswordLen)
		return pw, true, err
	}
	b, err := io.ReadAll(io.LimitReader(in, maxPasswordInput+1))
	if err != nil {
		return "", false, fmt.Errorf("reading the password from standard input: %w", err)
	}
	if len(b) > maxPasswordInput {
		return "", false, fmt.Errorf("standard input holds more than %d bytes: give the password alone", maxPasswordInput)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", false, errors.New("standard input held no password: pipe one in (printf '%s' \"$PASSWORD\" | kubectl jack ...) or use --generate")
	}
	if bytes.ContainsAny(b, "\n") {
		return "", false, errors.New("standard input holds more than one line: give the password alone, on one line")
	}
	if !utf8.Valid(b) {
		return "", false, errors.New("the password is not valid UTF-8 text: Jack's login could never send it")
	}
	if err := password.CheckStrength(string(b), password.DefaultMinLength); err != nil {
		fmt.Fprintf(warn, "Warning: %v unless the operator's --min-password-length allows shorter ones; until then the user cannot log in.\n", err)
	}
	return string(b), false, nil
}
