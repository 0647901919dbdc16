package revocation

import (
	"container/heap"
	"errors"
	"fmt"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
)

// The defaults of Options.
const (
	// DefaultMaxEntries holds a day of one logout a second, with room: when
	// full, about 10 MiB of heap and a file of 6 MB (twice that at most,
	// before a rewrite).
	DefaultMaxEntries = 100_000
	// DefaultMaxPerSubject is far more logouts than a person makes in a
	// token's lifetime, and a hundredth of DefaultMaxEntries: filling the
	// store takes a hundred accounts, not one.
	DefaultMaxPerSubject = 1_000
)

// compactFloor is the line count under which the file is never rewritten:
// a small file is cheaper to keep than to rewrite.
const compactFloor = 1000

// maxSubjectLength bounds what is stored of a subject (a user id, for
// people reading the record): longer ones are cut.
const maxSubjectLength = 253

// Options bound a File; zero fields get the defaults.
type Options struct {
	// MaxEntries bounds the revocations held (DefaultMaxEntries). A logout
	// past it is refused with ErrFull.
	MaxEntries int
	// MaxPerSubject bounds the revocations of one subject, a user id
	// (DefaultMaxPerSubject). A logout past it is refused with ErrFull.
	MaxPerSubject int
	// Leeway is how long past its token's expiry a revocation is kept: as
	// long as the verifier still accepts the token (jack.TokenLeeway).
	Leeway time.Duration
	// Now is the clock by which writes drop expired revocations (and skip
	// revocations of tokens already expired); time.Now by default. A test
	// that gives the server another clock must give it here too.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxPerSubject <= 0 {
		o.MaxPerSubject = DefaultMaxPerSubject
	}
	if o.Leeway == 0 {
		o.Leeway = jack.TokenLeeway
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ErrFull is the error of a revocation refused because the store, or the
// subject's share of it, is full; errors.Is finds it in a *FullError. The
// token stays valid: the caller must say that the logout failed (the
// sidecar answers 503 with Retry-After).
var ErrFull = errors.New("the revocation store is full")

// FullError is ErrFull with what was full and when room frees up.
type FullError struct {
	// Subject is the user whose share was full; empty when the whole store
	// was.
	Subject string
	// Max is the bound that was reached.
	Max int
	// RetryAfter is how long until the soonest revocation held expires and
	// frees room; zero when unknown (a subject's share).
	RetryAfter time.Duration
}

func (e *FullError) Error() string {
	if e.Subject != "" {
		return fmt.Sprintf("%v: user %s already has %d logged-out tokens and sessions that have not expired", ErrFull, e.Subject, e.Max)
	}
	return fmt.Sprintf("%v: it holds %d logged-out tokens and sessions that have not expired", ErrFull, e.Max)
}

// Is makes errors.Is(err, ErrFull) true.
func (e *FullError) Is(target error) bool { return target == ErrFull }

// subject counts the revocations held of one user; entries share its name,
// so a thousand logouts of one user hold one copy of their id.
type subject struct {
	name string
	n    int
}

// expiring is one revocation, or one session, in the expiry queue.
type expiring struct {
	until   int64 // unix seconds: the token's exp plus the leeway
	id      string
	session bool // id is a session's
}

// expiryQueue is a min-heap by until: the next revocation to drop first.
type expiryQueue []expiring

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].until < q[j].until }
func (q expiryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)        { *q = append(*q, x.(expiring)) }
func (q *expiryQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// add holds a revocation; the caller checked it is new and not expired.
func (s *File) add(id, subj string, exp int64) {
	s.entries[id] = held{exp: exp, subject: s.count(subj)}
	heap.Push(&s.queue, expiring{until: exp + s.leeway, id: id})
}

// count adds one to subj's share and returns it; nil for no subject.
func (s *File) count(subj string) *subject {
	if len(subj) > maxSubjectLength {
		subj = subj[:maxSubjectLength]
	}
	if subj == "" {
		return nil
	}
	sub := s.subjects[subj]
	if sub == nil {
		sub = &subject{name: subj}
		s.subjects[subj] = sub
	}
	sub.n++
	return sub
}

// expire drops the revocations and sessions whose tokens the verifier
// refuses anyway by now; each leaves a stale line in the file.
func (s *File) expire(now time.Time) {
	n := now.Unix()
	for len(s.queue) > 0 && s.queue[0].until <= n {
		x := heap.Pop(&s.queue).(expiring)
		var sub *subject
		if x.session {
			h, ok := s.sessions[x.id]
			if !ok {
				continue
			}
			if until := h.rec.ExpiresAt.Unix() + s.leeway; until > n {
				// A refresh since covered a later token: one element
				// per session, moved when it comes due rather than
				// with every refresh.
				heap.Push(&s.queue, expiring{until: until, id: x.id, session: true})
				continue
			}
			delete(s.sessions, x.id)
			sub = h.subject
		} else {
			h, ok := s.entries[x.id]
			if !ok {
				continue
			}
			delete(s.entries, x.id)
			sub = h.subject
		}
		if sub != nil {
			if sub.n--; sub.n == 0 {
				delete(s.subjects, sub.name)
			}
		}
	}
}

// room refuses a new revocation or session of subj past a bound.
func (s *File) room(subj string, now time.Time) error {
	if s.held() >= s.opts.MaxEntries {
		s.refusedFull.Add(1)
		wait := time.Duration(0)
		if len(s.queue) > 0 {
			wait = time.Unix(s.queue[0].until, 0).Sub(now)
		}
		return &FullError{Max: s.opts.MaxEntries, RetryAfter: max(wait, time.Second)}
	}
	if len(subj) > maxSubjectLength {
		subj = subj[:maxSubjectLength]
	}
	if sub := s.subjects[subj]; subj != "" && sub != nil && sub.n >= s.opts.MaxPerSubject {
		s.refusedSubject.Add(1)
		return &FullError{Subject: subj, Max: s.opts.MaxPerSubject}
	}
	return nil
}

// compactIfDue rewrites the file once most of its lines are stale, past
// the floor; see the package doc.
func (s *File) compactIfDue() error {
	if s.out == nil || s.lines.Load() <= int64(max(2*s.held(), compactFloor)) {
		return nil
	}
	err := s.rewrite()
	if err != nil {
		s.compactionErrors.Add(1)
	} else {
		s.compactions.Add(1)
	}
	return err
}
