package session

import (
	"errors"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// Record is what a sidecar knows of a session: its TokenRevocation's spec,
// or the zero Record when there is none. Times are UTC, to the second, as
// they survive a round trip through the API server.
type Record struct {
	// Ended refuses every token of the session.
	Ended bool
	// EndedBecause is jack.SessionEndedByLogout or
	// jack.SessionEndedByTokenReuse once Ended.
	EndedBecause string
	// Generation is the newest generation a refresh signed.
	Generation int64
	// GraceUntil is when tokens of Generation-1 stop being accepted.
	GraceUntil time.Time
	// ExpiresAt is when the last token the Record refuses expires; the
	// operator deletes the TokenRevocation after it.
	ExpiresAt time.Time
}

// Covering is r with ExpiresAt moved to exp if that is later, so that the
// TokenRevocation outlives the token that expires at exp. ExpiresAt never
// comes sooner (the API server refuses that too).
func (r Record) Covering(exp time.Time) Record {
	if exp.After(r.ExpiresAt) {
		r.ExpiresAt = exp.UTC()
	}
	return r
}

// Equal reports whether r and o are the same Record: times compared as
// instants, so that one read back from the API server or a file equals the
// one that was written.
func (r Record) Equal(o Record) bool {
	return r.Ended == o.Ended && r.EndedBecause == o.EndedBecause && r.Generation == o.Generation &&
		r.GraceUntil.Equal(o.GraceUntil) && r.ExpiresAt.Equal(o.ExpiresAt)
}

// Holds reports whether r already has everything o says: Merge(r, o) is r.
// A writer whose Record the stored one Holds has nothing to write; a
// sidecar whose Record Holds a TokenRevocation's spec acts on it.
func (r Record) Holds(o Record) bool { return Merge(r, o).Equal(r) }

// Verdict is what Check says of a token.
type Verdict int

const (
	// Accept: the session does not refuse the token. The caller's other
	// checks (the user, a sessionless token's revocation) still apply.
	Accept Verdict = iota
	// RefuseEnded: the session ended (a logout, or a reuse detected
	// before). Refuse the token.
	RefuseEnded
	// ReuseDetected: a token that a refresh superseded was presented after
	// its grace. End the session (EndForReuse), then refuse the token.
	ReuseDetected
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case RefuseEnded:
		return "ended"
	case ReuseDetected:
		return "reused"
	}
	return "unknown"
}

// Check says whether a session's Record lets a verified token through at
// now: the rules of the package documentation. A token without a session
// is accepted here; its jti is what a logout revoked.
//
// The zero Record is a session without a TokenRevocation. Check takes no
// "known" flag beside it: an absent Record and a zero one mean the same,
// a session that was never refreshed nor ended.
func Check(rec Record, c token.Claims, now time.Time) Verdict {
	switch g := c.SessionGeneration; {
	case c.SessionID == "":
		return Accept
	case rec.Ended:
		return RefuseEnded
	case g >= rec.Generation:
		return Accept
	case g == rec.Generation-1 && now.Before(rec.GraceUntil):
		return Accept
	default:
		return ReuseDetected
	}
}

// Why Refresh refuses. The session's end is token.ErrSessionOver, as
// token.Sign has it, so that one errors.Is answers TOKEN_EXPIRED for both.
var (
	// ErrEnded is a refresh of a token of an ended session: TOKEN_INVALID.
	ErrEnded = errors.New("the session has ended")
	// ErrReused is a refresh of a token superseded beyond its grace: the
	// caller must end the session (EndForReuse) and answer TOKEN_INVALID.
	ErrReused = errors.New("a token the session's refresh superseded was presented again")
)

// Refresh is what a refresh of the verified token c does at now, in a
// session that lasts lifetime after its login (token.SessionLifetime of the
// ring; zero or less means jack.DefaultSessionLifetime). It returns the
// session to sign the new token into (token.Sign) and the Record to write
// once it is signed, with Covering the new token's expiry.
//
// A token of generation g is refreshed into generation g+1. When that is
// newer than rec, it becomes the Record's generation, and the presented
// token's grace starts: jack.RefreshGrace from now, rounded up to the second
// that the TokenRevocation keeps. When it is not, the token had been
// refreshed already and is within its grace (a client's two refreshes at
// once): the new token is another of the newest generation, and the grace
// is not restarted.
//
// A token without a session starts one whose login is the token's iat, and
// there is no Record to write: the new session has none until its own
// first refresh or logout. The token itself is not superseded (it has no
// generation to supersede); it lasts until its own exp, as before sessions.
//
// Refresh refuses with ErrEnded, ErrReused (Check's verdicts), or
// token.ErrSessionOver once now is lifetime past the login (or the token
// has no iat to reckon it from).
func Refresh(rec Record, c token.Claims, now time.Time, lifetime time.Duration) (Record, token.Session, error) {
	// Ended and reused first: a reuse is worth detecting even at the
	// session's last second.
	switch Check(rec, c, now) {
	case RefuseEnded:
		return rec, token.Session{}, ErrEnded
	case ReuseDetected:
		return rec, token.Session{}, ErrReused
	}
	if lifetime <= 0 {
		lifetime = jack.DefaultSessionLifetime
	}
	login := LoginTime(c)
	if login.IsZero() || !now.Before(login.Add(lifetime)) {
		return rec, token.Session{}, token.ErrSessionOver
	}
	if c.SessionID == "" {
		return Record{}, token.Session{AuthTime: login}, nil
	}
	next := c.SessionGeneration + 1
	if next > token.MaxSessionGeneration {
		// Unreachable in any session's lifetime; refusing beats wrapping.
		return rec, token.Session{}, token.ErrSessionOver
	}
	if next > rec.Generation {
		rec.Generation = next
		rec.GraceUntil = ceilSecond(now.Add(jack.RefreshGrace))
	}
	s := c.Session()
	s.Generation = next
	return rec.Covering(c.ExpiresAt), s, nil
}

// Logout is the Record that ends the session of the verified token c: every
// token of it refused, for as long as the latest of them lives (c's, or a
// later one the Record already covers). A session ended already keeps the
// reason it ended for. A token without a session has no Record: revoke its
// jti instead.
func Logout(rec Record, c token.Claims) Record {
	return end(rec, jack.SessionEndedByLogout, c)
}

// EndForReuse is the Record that ends the session of c, a token Check found
// reused (ReuseDetected), or whose refresh Refresh refused with ErrReused.
func EndForReuse(rec Record, c token.Claims) Record {
	return end(rec, jack.SessionEndedByTokenReuse, c)
}

func end(rec Record, why string, c token.Claims) Record {
	if !rec.Ended {
		rec.Ended, rec.EndedBecause = true, why
	}
	return rec.Covering(c.ExpiresAt)
}

// Merge is the Record that keeps what both stored (what the API server
// holds) and mine (what this sidecar meant to write) refuse, for a write
// that met a conflict or waited out an outage: it only ever grows
// stricter, as the API server requires. An ended session stays ended for
// its first reason; the newer generation wins with its grace, and of two
// writes of the same generation the later grace (each began when its
// sidecar still saw the superseded token as the newest); ExpiresAt is the
// later.
//
// Merging is for a Record whose token is answered already, like a logout
// kept pending. A refresh that meets a conflict should rather re-run
// Refresh on the stored Record: it may now refuse (ErrEnded, ErrReused), or
// sign another generation.
func Merge(stored, mine Record) Record {
	out := stored
	if !out.Ended && mine.Ended {
		out.Ended, out.EndedBecause = true, mine.EndedBecause
	}
	switch {
	case mine.Generation > out.Generation:
		out.Generation, out.GraceUntil = mine.Generation, mine.GraceUntil
	case mine.Generation == out.Generation && mine.GraceUntil.After(out.GraceUntil):
		out.GraceUntil = mine.GraceUntil
	}
	return out.Covering(mine.ExpiresAt)
}

// LoginTime is when the login that c descends from happened: its
// auth_time, or, for a token without a session, its iat (zero when it has
// none). It is what a user's sessionsValidAfter must be compared with: a
// session that began before the user's sessions were ended is over, even
// in a token a lagging replica refreshed afterwards.
func LoginTime(c token.Claims) time.Time {
	if c.SessionID != "" {
		return c.AuthTime
	}
	return c.IssuedAt
}

// ceilSecond rounds t up to the second: a TokenRevocation keeps whole
// seconds, and a grace rounded down would end before the sidecar that
// granted it said.
func ceilSecond(t time.Time) time.Time {
	t = t.UTC()
	if s := t.Truncate(time.Second); !s.Equal(t) {
		return s.Add(time.Second)
	}
	return t
}
