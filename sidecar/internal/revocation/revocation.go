// Package revocation remembers the tokens that were logged out, by their
// id ("jti"), until they would have expired anyway. The sidecar refuses a
// token whose id is here. The File store keeps them in memory and in an
// append-only file, so a restart keeps every logout; the cluster-wide store
// that shares them between replicas implements the same Store interface.
package revocation

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Store records revocations and answers whether a token id is revoked.
type Store interface {
	// Revoke records that the token with this id must be refused until it
	// expires. Revoking an id twice is not an error.
	Revoke(e Entry) error
	// Revoked reports whether the id was revoked and has not expired yet.
	Revoked(jti string, now time.Time) bool
}

// maxIDLength bounds what is stored for one id: ids the sidecar issues are
// 22 characters; a caller must not be able to grow the file with long ones.
const maxIDLength = 128

// File is a Store persisted to a file of JSON lines.
type File struct {
	mu      sync.RWMutex
	path    string
	out     *os.File // nil when in memory only
	entries map[string]held
	// stale counts lines in the file for expired ids; past a threshold the
	// file is rewritten without them.
	stale int
}

// held is what is kept of a revocation.
type held struct {
	expires time.Time
	subject string
}

type line struct {
	ID      string `json:"jti"`
	Subject string `json:"sub,omitempty"`
	Expires int64  `json:"exp"`
}

// Open loads the revocations at path, drops the expired ones, and appends
// new ones there. An empty path keeps them in memory only.
func Open(path string, now time.Time) (*File, error) {
	s := &File{path: path, entries: map[string]held{}}
	if path == "" {
		return s, nil
	}
	if err := s.load(now); err != nil {
		return nil, err
	}
	if err := s.rewrite(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *File) load(now time.Time) error {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening the revocation file: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l line
		// A torn last line (a crash mid-write) is skipped, not fatal.
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.ID == "" || len(l.ID) > maxIDLength {
			continue
		}
		if exp := time.Unix(l.Expires, 0); now.Before(exp) {
			s.entries[l.ID] = held{expires: exp, subject: l.Subject}
		}
	}
	return sc.Err()
}

// rewrite replaces the file with the live entries and reopens it for append.
func (s *File) rewrite() error {
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("writing the revocation file: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for id, h := range s.entries {
		_ = enc.Encode(line{ID: id, Subject: h.subject, Expires: h.expires.Unix()})
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("writing the revocation file: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("replacing the revocation file: %w", err)
	}
	if s.out != nil {
		_ = s.out.Close()
	}
	s.out, err = os.OpenFile(s.path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("opening the revocation file: %w", err)
	}
	s.stale = 0
	return syncDir(filepath.Dir(s.path))
}

// Revoke records a revocation, durably before it returns when file-backed.
func (s *File) Revoke(e Entry) error {
	if e.ID == "" || len(e.ID) > maxIDLength {
		return errors.New("a token id must have 1 to 128 characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[e.ID]; ok {
		return nil
	}
	if s.out != nil {
		b, _ := json.Marshal(line{ID: e.ID, Subject: e.Subject, Expires: e.Expires.Unix()})
		if _, err := s.out.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("recording a revocation: %w", err)
		}
		if err := s.out.Sync(); err != nil {
			return fmt.Errorf("recording a revocation: %w", err)
		}
	}
	s.entries[e.ID] = held{expires: e.Expires, subject: e.Subject}
	return nil
}

// Entry is one revocation: a token id, its subject (for people reading
// the record; may be empty) and when the token expires.
type Entry struct {
	ID      string
	Subject string
	Expires time.Time
}

// RevokeAll records many revocations with one write, for revocations learned
// in bulk (another replica's, listed from the API server). Ids already held,
// and malformed ones, are skipped.
func (s *File) RevokeAll(entries []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var buf []byte
	added := 0
	for _, e := range entries {
		if e.ID == "" || len(e.ID) > maxIDLength {
			continue
		}
		if _, ok := s.entries[e.ID]; ok {
			continue
		}
		if s.out != nil {
			b, _ := json.Marshal(line{ID: e.ID, Subject: e.Subject, Expires: e.Expires.Unix()})
			buf = append(append(buf, b...), '\n')
		}
		s.entries[e.ID] = held{expires: e.Expires, subject: e.Subject}
		added++
	}
	if s.out == nil || added == 0 {
		return nil
	}
	if _, err := s.out.Write(buf); err != nil {
		return fmt.Errorf("recording revocations: %w", err)
	}
	if err := s.out.Sync(); err != nil {
		return fmt.Errorf("recording revocations: %w", err)
	}
	return nil
}

// Live returns the revocations of tokens that have not expired at now.
func (s *File) Live(now time.Time) []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Entry, 0, len(s.entries))
	for id, h := range s.entries {
		if now.Before(h.expires) {
			out = append(out, Entry{ID: id, Subject: h.subject, Expires: h.expires})
		}
	}
	return out
}

// Revoked reports whether jti is revoked at time now.
func (s *File) Revoked(jti string, now time.Time) bool {
	s.mu.RLock()
	h, ok := s.entries[jti]
	s.mu.RUnlock()
	return ok && now.Before(h.expires)
}

// Len is the number of revocations held, expired or not.
func (s *File) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Prune forgets revocations of tokens that have expired, and rewrites the
// file once enough of its lines are for them.
func (s *File) Prune(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, h := range s.entries {
		if !now.Before(h.expires) {
			delete(s.entries, id)
			s.stale++
		}
	}
	if s.out != nil && s.stale > 1000 && s.stale > len(s.entries) {
		return s.rewrite()
	}
	return nil
}

// Close closes the file.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return nil
	}
	err := s.out.Close()
	s.out = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
