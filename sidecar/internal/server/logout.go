package server

import (
	"context"
	"net/http"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/session"
)

// LogoutConfirmer shares a logout with the other replicas and tells when
// every one of them refuses the token. It is cluster.Revocations when the
// sidecar has API access; without it the sidecar runs alone, and a logout
// holds everywhere it can be used once it is recorded here.
type LogoutConfirmer interface {
	// Confirm is called once Revoke has recorded e, the logout of a token
	// without a session. It returns nil once every ready replica refuses
	// the token, and an error when ctx ends first or the logout could not
	// be shared; the logout stays recorded either way, and a later Confirm
	// of the same e waits again.
	Confirm(ctx context.Context, e revocation.Entry) error
	// ConfirmSession is Confirm for a session whose end RecordSession has
	// recorded: nil once every ready replica refuses its tokens.
	ConfirmSession(ctx context.Context, e revocation.SessionEntry) error
}

var errLogoutUnconfirmed = &api.Error{Code: api.CodeLogoutUnconfirmed, RetryAfter: time.Second,
	Message: "You are logged out on this replica; not every replica has confirmed it yet. Retry the logout to confirm."}

// logout ends the presented token's session — every token of it, those
// refreshed from it too — or revokes a token without a session until it
// expires, and answers once every replica refuses it. A token already
// logged out reaches here too (WithAuthentication lets it through for a
// logout alone), so that a client whose logout answered 503
// LOGOUT_UNCONFIRMED, or was lost, can retry it: the end is recorded once,
// and the retry waits for the same confirmation, which may have come
// meanwhile.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, ex *exchange) {
	id := &ex.id
	if s.sessionThrottled(w, id, false, errLogoutThrottled) {
		return
	}
	var name string
	var confirm func(context.Context) error
	if c := id.Claims; c.SessionID != "" {
		e := revocation.SessionEntry{ID: c.SessionID, Subject: id.User.ID, Record: session.Logout(s.revocations.Session(c.SessionID, s.now()), c)}
		if _, _, err := s.revocations.RecordSession(e); err != nil {
			refuse(w, s.storeRefusal(err, "logout", id.User.ID))
			return
		}
		name, confirm = jack.SessionRevocationName(c.SessionID), func(ctx context.Context) error { return s.confirmer.ConfirmSession(ctx, e) }
	} else {
		e := revocation.Entry{ID: c.ID, Subject: id.User.ID, Expires: c.ExpiresAt}
		if err := s.revocations.Revoke(e); err != nil {
			refuse(w, s.storeRefusal(err, "logout", id.User.ID))
			return
		}
		name, confirm = jack.RevocationName(e.ID), func(ctx context.Context) error { return s.confirmer.Confirm(ctx, e) }
	}
	if s.confirmer != nil && !s.confirmLogout(w, r, name, confirm, id) {
		return
	}
	api.WriteData(w, http.StatusOK, map[string]string{"message": "Logged out."})
}

// confirmLogout waits, for at most logoutConfirmTimeout, until every replica
// refuses what the logout recorded (confirm, for the TokenRevocation name).
// When they do not in time it answers 503 LOGOUT_UNCONFIRMED and returns
// false: the token is refused here already, and the logout reaches the
// others when the outbox gets it through (see package cluster), but a 200
// would promise more than that.
func (s *Server) confirmLogout(w http.ResponseWriter, r *http.Request, name string, confirm func(context.Context) error, id *Identity) bool {
	// The main port's read deadline runs from the request's start
	// (Limits.ConfigureServer), and a read deadline that passes cancels the
	// request's context: a wait longer than what is left of it would end
	// early. Give the wait its own room.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.logoutConfirmTimeout + s.bodyTimeout))
	ctx, cancel := context.WithTimeout(r.Context(), s.logoutConfirmTimeout)
	defer cancel()
	start := time.Now()
	err := confirm(ctx)
	took := time.Since(start)
	s.metrics.logoutConfirm.Observe(took.Seconds())
	if err == nil {
		return true
	}
	s.metrics.logoutsUnconfirmed.Inc()
	// The revocation's name is a digest of the token's or the session's
	// id, never the token or the id.
	s.log.Info("a logout is not confirmed by every replica; answered 503, the token stays refused here",
		"revocation", name, "user", id.User.ID, "waited", took.Round(time.Millisecond).String(), "reason", err.Error())
	refuse(w, errLogoutUnconfirmed)
	return false
}
