package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/session"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// A login starts a session; refresh signs the next token of it and
// supersedes the one presented after jack.RefreshGrace; a token presented
// after its grace ends the session (refresh-token reuse detection, RFC 9700
// §4.14); a logout ends it. Package session decides; this file records
// what it decides in the revocation store, whose cluster implementation
// shares it with every replica through the session's TokenRevocation.

var errSessionReused = &api.Error{Code: api.CodeTokenInvalid,
	Message: "This session was ended because a replaced token was used again. Please log in again."}

// endedError is the refusal of a token whose session ended as rec says.
func endedError(rec session.Record) *api.Error {
	if rec.EndedBecause == jack.SessionEndedByTokenReuse {
		return errSessionReused
	}
	return errLoggedOut
}

// checkSession applies what this sidecar knows of a verified token's
// session (the token of user userID) at now.
func (s *Server) checkSession(c token.Claims, userID string, now time.Time, loggingOut bool) *api.Error {
	if c.SessionID == "" {
		return nil
	}
	rec := s.revocations.Session(c.SessionID, now)
	switch session.Check(rec, c, now) {
	case session.RefuseEnded:
		if loggingOut {
			// Logging an ended session out again grants nothing, and
			// waits for the same confirmation: how a client retries a
			// logout answered 503 LOGOUT_UNCONFIRMED, or learns that every
			// replica refuses a session ended for reuse.
			return nil
		}
		s.metrics.tokenRefusals.WithLabelValues("session ended").Inc()
		return endedError(rec)
	case session.ReuseDetected:
		s.endForReuse(c, userID)
		s.metrics.tokenRefusals.WithLabelValues("token reused").Inc()
		return errSessionReused
	}
	return nil
}

// endForReuse ends the session of c, a token presented after a refresh
// superseded it and its grace passed: whoever holds it holds a copy of a
// token the client has replaced, so every token of the session, the newest
// too, is refused from now on. It is recorded here at once and written to
// the API server without waiting for the other replicas: the answer is a
// refusal either way, and the outbox gets it through.
func (s *Server) endForReuse(c token.Claims, userID string) {
	name := jack.SessionRevocationName(c.SessionID)
	rec := session.EndForReuse(s.revocations.Session(c.SessionID, s.now()), c)
	held, changed, err := s.revocations.RecordSession(revocation.SessionEntry{ID: c.SessionID, Subject: userID, Record: rec})
	if err != nil {
		s.log.Error(err, "recording the end of a session whose replaced token was used again; the token is refused, the session is not ended",
			"revocation", name, "user", userID)
		return
	}
	if !changed {
		return // another request ended it first, and said so
	}
	s.metrics.sessionsReused.Inc()
	// The audit line: who, and which session by its TokenRevocation's name
	// (a digest of the session id), never the token or the id.
	s.log.Info("a token that a refresh had replaced was used again after its grace; the session is ended on every replica",
		"revocation", name, "user", userID, "tokenGeneration", c.SessionGeneration, "sessionGeneration", held.Generation)
}

// refresh answers a verified request with the next token of its session,
// for the same user with the user's current name and role. The presented
// token keeps working for jack.RefreshGrace, so that requests already sent
// with it finish; after that it ends the session if presented again. The
// answer does not wait for the other replicas: until they learn of the
// refresh, they accept the presented token as the newest, which it was.
// A token without a session (from before sessions) starts one, and stays
// valid until its own expiry unless it is logged out.
func (s *Server) refresh(w http.ResponseWriter, _ *http.Request, ex *exchange) {
	id := &ex.id
	if s.sessionThrottled(w, id, true, errRefreshThrottled) {
		return
	}
	keys, ok := s.src.Keys()
	if !ok {
		refuse(w, errKeysNotLoaded)
		return
	}
	c := id.Claims
	now := s.now()
	rec, next, err := session.Refresh(s.revocations.Session(c.SessionID, now), c, now, token.SessionLifetime(keys.Ring))
	switch {
	case errors.Is(err, session.ErrReused):
		// WithAuthentication let it through a moment ago: another
		// request's refresh superseded it meanwhile.
		s.endForReuse(c, id.User.ID)
		refuse(w, errSessionReused)
		return
	case errors.Is(err, session.ErrEnded):
		refuse(w, endedError(rec))
		return
	case errors.Is(err, token.ErrSessionOver):
		s.metrics.tokenRefusals.WithLabelValues("session over").Inc()
		refuse(w, errExpired)
		return
	case err != nil:
		s.log.Error(err, "refreshing a session", "user", id.User.ID)
		refuse(w, &api.Error{Code: api.CodeInternal, Message: "The token could not be refreshed."})
		return
	}
	var record func(token.Claims) *api.Error
	if c.SessionID != "" {
		record = func(signed token.Claims) *api.Error {
			e := revocation.SessionEntry{ID: c.SessionID, Subject: id.User.ID, Record: rec.Covering(signed.ExpiresAt)}
			_, _, err := s.revocations.RecordSession(e)
			return s.storeRefusal(err, "refresh", id.User.ID)
		}
	}
	s.issue(w, keys, id.User, next, record)
}

// storeRefusal is the answer when the revocation store could not record a
// logout or a refresh (what), nil when it did. Nothing is evicted to make
// room, so nothing answered is ever forgotten; this one is refused, and
// says that the token presented still works.
func (s *Server) storeRefusal(err error, what, userID string) *api.Error {
	var full *revocation.FullError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &full):
		s.log.Info("the revocation store is full; a "+what+" is refused", "user", userID, "max", full.Max, "userShare", full.Subject != "")
		return &api.Error{Code: api.CodeNotReady, Message: "Too many logged-out tokens and sessions are held; the token is still valid. Try again later.",
			RetryAfter: max(min(full.RetryAfter, time.Hour), time.Minute)}
	default:
		s.log.Error(err, "recording a "+what, "user", userID)
		return &api.Error{Code: api.CodeInternal, Message: "The " + what + " could not be recorded; the token is still valid."}
	}
}
