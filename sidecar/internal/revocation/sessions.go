package revocation

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jack-io/jack-operator/sidecar/internal/session"
)

// SessionEntry is what is held of one session: its id (sid), its subject
// (for people reading the record, and for the per-user bound; may be
// empty) and its session.Record.
type SessionEntry struct {
	ID      string
	Subject string
	Record  session.Record
}

// heldSession is what is kept of a session.
type heldSession struct {
	rec     session.Record
	subject *subject // nil when unknown
}

// Session implements Store: what is held of the session sid at now, or the
// zero Record once every token it covers has expired (plus the leeway).
func (s *File) Session(sid string, now time.Time) session.Record {
	s.mu.RLock()
	h, ok := s.sessions[sid]
	s.mu.RUnlock()
	if !ok || h.rec.ExpiresAt.Unix()+s.leeway <= now.Unix() {
		return session.Record{}
	}
	return h.rec
}

// RecordSession implements Store. A session's record changes with every
// refresh; each change appends one line, and the file is rewritten as the
// package doc says, keeping one line a session. A Record that changes
// nothing of what is held writes nothing.
func (s *File) RecordSession(e SessionEntry) (session.Record, bool, error) {
	if e.ID == "" || len(e.ID) > maxIDLength {
		return session.Record{}, false, errors.New("a session id must have 1 to 128 characters")
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := s.opts.Now()
	s.mu.Lock()
	s.expire(now)
	s.mu.Unlock()
	h, known := s.sessions[e.ID]
	rec := normalize(session.Merge(h.rec, e.Record))
	switch {
	case known && rec.Equal(h.rec):
		return h.rec, false, nil
	case rec.ExpiresAt.Unix()+s.leeway <= now.Unix():
		// Every token it could refuse has expired: nothing to hold.
		return rec, false, nil
	case !known:
		if err := s.room(e.Subject, now); err != nil {
			return h.rec, false, err
		}
	}
	if s.out != nil {
		l := sessionLine(e.ID, heldSession{rec: rec})
		if known && h.subject != nil {
			l.Subject = h.subject.name
		} else {
			l.Subject = truncate(e.Subject)
		}
		b, _ := json.Marshal(l)
		if _, err := s.out.Write(append(b, '\n')); err != nil {
			return h.rec, false, fmt.Errorf("recording a session: %w", err)
		}
		if err := s.out.Sync(); err != nil {
			return h.rec, false, fmt.Errorf("recording a session: %w", err)
		}
		s.lines.Add(1)
	}
	s.mu.Lock()
	s.putSession(e.ID, e.Subject, rec)
	s.mu.Unlock()
	// Durable already: a failed compaction must not report it lost.
	_ = s.compactIfDue()
	return rec, true, nil
}

// LearnSessions merges many session records with one write, for records
// learned in bulk (another replica's refreshes and logouts, listed from
// the API server), as RevokeAll does for revocations: records that change
// nothing, malformed and expired ones are skipped, and new sessions are
// held past MaxEntries up to twice it, then dropped with an error wrapping
// ErrFull. A session held already is always updated: that takes no room.
func (s *File) LearnSessions(entries []SessionEntry) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := s.opts.Now()
	s.mu.Lock()
	s.expire(now)
	s.mu.Unlock()
	fresh := map[string]SessionEntry{}
	var order []string
	dropped, added := 0, 0
	for _, e := range entries {
		if e.ID == "" || len(e.ID) > maxIDLength {
			continue
		}
		h, known := s.sessions[e.ID]
		if f, again := fresh[e.ID]; again {
			f.Record = normalize(session.Merge(f.Record, e.Record))
			fresh[e.ID] = f
			continue
		}
		rec := normalize(session.Merge(h.rec, e.Record))
		switch {
		case known && rec.Equal(h.rec), rec.ExpiresAt.Unix()+s.leeway <= now.Unix():
			continue
		case !known && s.held()+added >= 2*s.opts.MaxEntries:
			dropped++
			continue
		case !known:
			added++
		}
		fresh[e.ID] = SessionEntry{ID: e.ID, Subject: e.Subject, Record: rec}
		order = append(order, e.ID)
	}
	var errs []error
	if dropped > 0 {
		s.learnedDropped.Add(uint64(dropped))
		errs = append(errs, fmt.Errorf("%w: %d sessions learned from other replicas were not kept, %d are held", ErrFull, dropped, s.held()+added))
	}
	if s.out != nil && len(order) > 0 {
		var buf []byte
		for _, id := range order {
			e := fresh[id]
			l := sessionLine(id, heldSession{rec: e.Record})
			l.Subject = truncate(e.Subject)
			b, _ := json.Marshal(l)
			buf = append(append(buf, b...), '\n')
		}
		if err := s.appendLines(buf, len(order)); err != nil {
			errs = append(errs, fmt.Errorf("recording sessions: %w", err))
		}
	}
	// Held even if the write failed: the replica that wrote them has them,
	// and the next list from the API server brings them back after a
	// restart.
	s.mu.Lock()
	for _, id := range order {
		e := fresh[id]
		s.putSession(id, e.Subject, e.Record)
	}
	s.mu.Unlock()
	_ = s.compactIfDue()
	return errors.Join(errs...)
}

// LiveSessions returns the sessions held whose tokens have not all expired
// at now.
func (s *File) LiveSessions(now time.Time) []SessionEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]SessionEntry, 0, len(s.sessions))
	n := now.Unix()
	for id, h := range s.sessions {
		if h.rec.ExpiresAt.Unix()+s.leeway > n {
			out = append(out, SessionEntry{ID: id, Subject: sessionLine(id, h).Subject, Record: h.rec})
		}
	}
	return out
}

func (s *File) sessionsHeld() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// putSession holds rec for the session sid, replacing what was held; the
// caller holds wmu and mu. A session's first record takes a place in the
// expiry queue and in its subject's share; later ones keep them.
func (s *File) putSession(sid, subj string, rec session.Record) {
	if h, ok := s.sessions[sid]; ok {
		h.rec = rec
		s.sessions[sid] = h
		return
	}
	s.sessions[sid] = heldSession{rec: rec, subject: s.count(subj)}
	heap.Push(&s.queue, expiring{until: rec.ExpiresAt.Unix() + s.leeway, id: sid, session: true})
}

// loadSession merges one line of the file into the sessions held.
func (s *File) loadSession(l line, now int64) {
	rec := session.Record{
		Ended: l.EndedBecause != "", EndedBecause: l.EndedBecause, Generation: l.Generation,
		ExpiresAt: time.Unix(l.Expires, 0).UTC(),
	}
	if l.GraceUntil != 0 {
		rec.GraceUntil = time.Unix(l.GraceUntil, 0).UTC()
	}
	h, known := s.sessions[l.SessionID]
	rec = session.Merge(h.rec, rec)
	if !known && rec.ExpiresAt.Unix()+s.leeway <= now {
		return
	}
	s.putSession(l.SessionID, l.Subject, rec)
}

// sessionLine is the line that records h for the session sid.
func sessionLine(sid string, h heldSession) line {
	l := line{SessionID: sid, Expires: h.rec.ExpiresAt.Unix(), Generation: h.rec.Generation}
	if !h.rec.GraceUntil.IsZero() {
		l.GraceUntil = h.rec.GraceUntil.Unix()
	}
	if h.rec.Ended {
		// A reason the file cannot name still ends the session.
		l.EndedBecause = h.rec.EndedBecause
		if l.EndedBecause == "" {
			l.EndedBecause = "Ended"
		}
	}
	if h.subject != nil {
		l.Subject = h.subject.name
	}
	return l
}

// normalize keeps a Record's times as the file and the API server keep
// them, in whole seconds and UTC, so that what is held equals what is
// read back.
func normalize(r session.Record) session.Record {
	sec := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Truncate(time.Second).UTC()
	}
	r.GraceUntil, r.ExpiresAt = sec(r.GraceUntil), sec(r.ExpiresAt)
	return r
}
