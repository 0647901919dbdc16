package revocation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jack-io/jack-operator/sidecar/internal/session"
)

// Store records revocations and answers whether a token id is revoked,
// and what is known of a session.
type Store interface {
	// Revoke records that the token with this id must be refused until it
	// expires. Revoking an id twice is not an error. A store that is full
	// returns an error wrapping ErrFull, and the token stays valid.
	Revoke(e Entry) error
	// Revoked reports whether the id was revoked and has not expired yet.
	Revoked(jti string, now time.Time) bool
	// Session is what is held of the session with this id (sid) at now:
	// the zero session.Record when nothing is, or its tokens have all
	// expired.
	Session(sid string, now time.Time) session.Record
	// RecordSession merges e.Record into what is held of the session
	// (session.Merge), durably before it returns when file-backed, and
	// returns what is held now and whether that changed. A session not
	// held yet takes room like a revocation: past a bound nothing is
	// recorded and the error wraps ErrFull.
	RecordSession(e SessionEntry) (held session.Record, changed bool, err error)
}

// maxIDLength bounds what is stored for one id: ids the sidecar issues are
// 22 characters; a caller must not be able to grow the file with long ones.
const maxIDLength = 128

// maxLineLength bounds a line read back from the file; ours are under 500
// bytes, and a longer one is damage, skipped like a torn line.
const maxLineLength = 4 << 10

// File is a Store persisted to a file of JSON lines, bounded as the package
// doc says.
//
// Two locks keep a logout's fsync, and a rewrite, from holding up the
// requests that only ask whether a token is revoked: writers take wmu, one
// at a time, for the whole write; mu is taken, by writers, only around the
// changes to the maps, so readers wait for no I/O.
type File struct {
	wmu    sync.Mutex // serializes writers; guards out and lines
	mu     sync.RWMutex
	path   string
	out    *os.File // nil when in memory only
	opts   Options
	leeway int64 // seconds
	// entries, sessions, subjects and queue change only under wmu and mu
	// both, so a writer holding wmu reads them without mu.
	entries  map[string]held        // by token id
	sessions map[string]heldSession // by session id
	subjects map[string]*subject
	queue    expiryQueue // one element per entry and session, the soonest to expire first
	// lines counts the lines in the file: one per entry and session held,
	// plus stale ones for entries since expired and sessions since
	// changed.
	lines atomic.Int64

	refusedFull, refusedSubject, learnedDropped atomic.Uint64
	compactions, compactionErrors               atomic.Uint64
}

// held is what is kept of a revocation.
type held struct {
	exp     int64    // unix seconds, the token's exp
	subject *subject // nil when unknown
}

// line is one line of the file: a token's revocation (jti), or a session's
// record (sid). A session's fields are new: a sidecar from before sessions
// skips a line without a jti as damage, and this one reads a file that
// has none.
type line struct {
	ID        string `json:"jti,omitempty"`
	SessionID string `json:"sid,omitempty"`
	Subject   string `json:"sub,omitempty"`
	// Expires is the token's exp, or the session's ExpiresAt.
	Expires int64 `json:"exp"`
	// Generation, GraceUntil (unix seconds) and EndedBecause (empty while
	// the session runs) are a session's Record.
	Generation   int64  `json:"gen,omitempty"`
	GraceUntil   int64  `json:"grace,omitempty"`
	EndedBecause string `json:"ended,omitempty"`
}

// Open loads the revocations at path, drops the expired ones, and appends
// new ones there. An empty path keeps them in memory only. At most one
// Options may be given; without it, the defaults bound the store.
//
// Every live revocation in the file is loaded, even past MaxEntries (after
// the bound was lowered): none is forgotten, and new ones are refused until
// enough have expired.
func Open(path string, now time.Time, opts ...Options) (*File, error) {
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		return nil, errors.New("revocation.Open takes at most one Options")
	}
	o = o.withDefaults()
	s := &File{path: path, opts: o, entries: map[string]held{}, sessions: map[string]heldSession{}, subjects: map[string]*subject{}}
	if o.Leeway > 0 {
		s.leeway = int64((o.Leeway + time.Second - 1) / time.Second)
	}
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
	r := bufio.NewReaderSize(f, maxLineLength)
	n := now.Unix()
	for {
		b, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Damage, not a line of ours: skip to the next newline.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			b = nil
		}
		if len(bytes.TrimSpace(b)) > 0 {
			var l line
			// A torn last line (a crash mid-write) is skipped, not fatal.
			switch {
			case json.Unmarshal(b, &l) != nil:
			case l.ID != "" && l.SessionID == "" && len(l.ID) <= maxIDLength:
				if _, dup := s.entries[l.ID]; !dup && l.Expires+s.leeway > n {
					s.add(l.ID, l.Subject, l.Expires)
				}
			case l.SessionID != "" && l.ID == "" && len(l.SessionID) <= maxIDLength && l.Generation >= 0:
				// A session has a line per change: what it holds is
				// every line merged, in any order.
				s.loadSession(l, n)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the revocation file: %w", err)
		}
	}
}

// rewrite replaces the file with the entries held and appends to it from
// then on. Until the rename, the old file stays whole and in use.
func (s *File) rewrite() error {
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("writing the revocation file: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for id, h := range s.entries {
		_ = enc.Encode(lineOf(id, h))
	}
	for sid, h := range s.sessions {
		_ = enc.Encode(sessionLine(sid, h))
	}
	err = errors.Join(w.Flush(), f.Sync())
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("rewriting the revocation file: %w", err)
	}
	// f, renamed, is the file now: appends go on through it.
	if s.out != nil {
		_ = s.out.Close()
	}
	s.out = f
	s.lines.Store(int64(s.held()))
	return syncDir(filepath.Dir(s.path))
}

func lineOf(id string, h held) line {
	l := line{ID: id, Expires: h.exp}
	if h.subject != nil {
		l.Subject = h.subject.name
	}
	return l
}

// Revoke records a revocation, durably before it returns when file-backed.
// Past a bound it records nothing and returns a *FullError (ErrFull); a
// revocation whose token has already expired needs no record.
func (s *File) Revoke(e Entry) error {
	if e.ID == "" || len(e.ID) > maxIDLength {
		return errors.New("a token id must have 1 to 128 characters")
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, ok := s.entries[e.ID]; ok {
		return nil
	}
	now := s.opts.Now()
	exp := e.Expires.Unix()
	if exp+s.leeway <= now.Unix() {
		return nil
	}
	s.mu.Lock()
	s.expire(now)
	s.mu.Unlock()
	if err := s.room(e.Subject, now); err != nil {
		return err
	}
	if s.out != nil {
		b, _ := json.Marshal(line{ID: e.ID, Subject: truncate(e.Subject), Expires: exp})
		if _, err := s.out.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("recording a revocation: %w", err)
		}
		if err := s.out.Sync(); err != nil {
			return fmt.Errorf("recording a revocation: %w", err)
		}
		s.lines.Add(1)
	}
	s.mu.Lock()
	s.add(e.ID, e.Subject, exp)
	s.mu.Unlock()
	// The revocation is durable: a failed compaction must not report it
	// lost. The next Prune retries and reports it.
	_ = s.compactIfDue()
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
// malformed ones and expired ones are skipped. They are held past
// MaxEntries, since another replica already answered their logout, up to
// twice it; past that they are dropped and the error wraps ErrFull.
func (s *File) RevokeAll(entries []Entry) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := s.opts.Now()
	s.mu.Lock()
	s.expire(now)
	s.mu.Unlock()
	var buf []byte
	var fresh []Entry
	batch := map[string]bool{}
	dropped := 0
	for _, e := range entries {
		if e.ID == "" || len(e.ID) > maxIDLength || batch[e.ID] {
			continue
		}
		if _, ok := s.entries[e.ID]; ok {
			continue
		}
		if e.Expires.Unix()+s.leeway <= now.Unix() {
			continue
		}
		if s.held()+len(fresh) >= 2*s.opts.MaxEntries {
			dropped++
			continue
		}
		batch[e.ID] = true
		fresh = append(fresh, e)
		if s.out != nil {
			b, _ := json.Marshal(line{ID: e.ID, Subject: truncate(e.Subject), Expires: e.Expires.Unix()})
			buf = append(append(buf, b...), '\n')
		}
	}
	var errs []error
	if dropped > 0 {
		s.learnedDropped.Add(uint64(dropped))
		errs = append(errs, fmt.Errorf("%w: %d revocations learned from other replicas were not kept, %d are held", ErrFull, dropped, s.held()+len(fresh)))
	}
	if s.out != nil && len(fresh) > 0 {
		if err := s.appendLines(buf, len(fresh)); err != nil {
			errs = append(errs, fmt.Errorf("recording revocations: %w", err))
		}
	}
	// Held even if the write failed: the replica that made them has them,
	// and the next list from the API server brings them back after a restart.
	s.mu.Lock()
	for _, e := range fresh {
		s.add(e.ID, e.Subject, e.Expires.Unix())
	}
	s.mu.Unlock()
	_ = s.compactIfDue()
	return errors.Join(errs...)
}

func truncate(subject string) string {
	if len(subject) > maxSubjectLength {
		return subject[:maxSubjectLength]
	}
	return subject
}

// Live returns the revocations of tokens that have not expired at now.
func (s *File) Live(now time.Time) []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Entry, 0, len(s.entries))
	n := now.Unix()
	for id, h := range s.entries {
		if h.exp+s.leeway > n {
			l := lineOf(id, h)
			out = append(out, Entry{ID: id, Subject: l.Subject, Expires: time.Unix(h.exp, 0)})
		}
	}
	return out
}

// Revoked reports whether jti is revoked at time now: until its token's
// expiry plus the leeway the verifier allows.
func (s *File) Revoked(jti string, now time.Time) bool {
	s.mu.RLock()
	h, ok := s.entries[jti]
	s.mu.RUnlock()
	return ok && h.exp+s.leeway > now.Unix()
}

// Len is the number of revocations and sessions held, expired or not.
func (s *File) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.held()
}

// held is the number of revocations and sessions held; the caller holds mu
// or wmu.
func (s *File) held() int { return len(s.entries) + len(s.sessions) }

// Prune forgets revocations of tokens that have expired, and rewrites the
// file once most of its lines are for them. Writes do the same as they
// go; Prune is for a quiet store, and reports a failed rewrite.
func (s *File) Prune(now time.Time) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	s.expire(now)
	s.mu.Unlock()
	return s.compactIfDue()
}

// Close closes the file.
func (s *File) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
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

// appendLines writes n lines to the file and syncs it, and counts them once
// they are on disk.
func (s *File) appendLines(buf []byte, n int) error {
	_, err := s.out.Write(buf)
	if err == nil {
		err = s.out.Sync()
	}
	if err == nil {
		s.lines.Add(int64(n))
	}
	return err
}
