package kube

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// maxTokenFileSize bounds a token file's read. Service account tokens are a
// kilobyte or two; anything far larger is not a token.
const maxTokenFileSize = 64 << 10

// tokenFile hands out the bearer token from a file the kubelet rotates. It
// reads the file again once the last read is older than reread, and on
// demand after the API server refused the token. A read that fails (a file
// briefly missing during a swap, a truncated write) keeps the last good
// token, since that one is usually still valid for a long while; with no
// good token yet, the read's error is returned. Errors name the file, never
// its content.
type tokenFile struct {
	path   string
	reread time.Duration
	now    func() time.Time

	mu     sync.Mutex
	token  string
	readAt time.Time
}

func newTokenFile(path string, reread time.Duration) *tokenFile {
	if reread <= 0 {
		reread = defaultTokenReread
	}
	return &tokenFile{path: path, reread: reread, now: time.Now}
}

// get returns the token to send, reading the file when it is due.
func (f *tokenFile) get() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != "" && f.now().Sub(f.readAt) < f.reread {
		return f.token, nil
	}
	return f.readLocked()
}

// refresh reads the file after the server refused used, and reports the
// token to send instead, if there is a different one.
func (f *tokenFile) refresh(used string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != used {
		// Another request has already read a newer token.
		return f.token, f.token != ""
	}
	tok, err := f.readLocked()
	if err != nil || tok == used {
		return "", false
	}
	return tok, true
}

func (f *tokenFile) readLocked() (string, error) {
	f.readAt = f.now()
	tok, err := readToken(f.path)
	if err == nil {
		f.token = tok
		return tok, nil
	}
	if f.token != "" {
		return f.token, nil
	}
	return "", err
}

func readToken(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the bearer token: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenFileSize+1))
	if err != nil {
		return "", fmt.Errorf("reading the bearer token from %s: %w", path, err)
	}
	if len(b) > maxTokenFileSize {
		return "", fmt.Errorf("the bearer token file %s is larger than %d bytes", path, maxTokenFileSize)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("the bearer token file %s is empty", path)
	}
	return tok, nil
}
