package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
)

// LogoutConfirmer shares a logout with the other replicas and tells when
// every one of them refuses the token. It is cluster.Revocations when the
// sidecar has API access; without it the sidecar runs alone, and a logout
// holds everywhere it can be used once it is recorded here.
type LogoutConfirmer interface {
	// Confirm is called once Revoke has recorded e. It returns nil once
	// every ready replica refuses the token, and an error when ctx ends
	// first or the logout could not be shared; the logout stays recorded
	// either way, and a later Confirm of the same e waits again.
	Confirm(ctx context.Context, e revocation.Entry) error
}

var errLogoutUnconfirmed = &api.Error{Code: api.CodeLogoutUnconfirmed, RetryAfter: time.Second,
	Message: "You are logged out on this replica; not every replica has confirmed it yet. Retry the logout to confirm."}

// logout revokes the presented token until it expires, and answers once
// every replica refuses it. A token already logged out reaches here too
// (WithAuthentication lets it through for a logout alone), so that a client
// whose logout answered 503 LOGOUT_UNCONFIRMED, or was lost, can retry it:
// the revocation is recorded once, and the retry waits for the same
// confirmation, which may have come meanwhile.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, ex *exchange) {
	id := &ex.id
	if s.sessionThrottled(w, id, false, errLogoutThrottled) {
		return
	}
	e := revocation.Entry{ID: id.Claims.ID, Subject: id.User.ID, Expires: id.Claims.ExpiresAt}
	err := s.revocations.Revoke(e)
	var full *revocation.FullError
	if errors.As(err, &full) {
		// Nothing is evicted to make room, so no logout answered 200 is
		// ever forgotten; this one is refused, and says so.
		s.log.Info("the revocation store is full; a logout is refused", "user", id.User.ID, "max", full.Max, "userShare", full.Subject != "")
		refuse(w, &api.Error{Code: api.CodeNotReady, Message: "Too many logged-out tokens are held; the token is still valid. Try again later.",
			RetryAfter: max(min(full.RetryAfter, time.Hour), time.Minute)})
		return
	}
	if err != nil {
		s.log.Error(err, "recording a logout", "user", id.User.ID)
		refuse(w, &api.Error{Code: api.CodeInternal, Message: "The logout could not be recorded; the token is still valid."})
		return
	}
	if s.confirmer != nil && !s.confirmLogout(w, r, e, id) {
		return
	}
	api.WriteData(w, http.StatusOK, map[string]string{"message": "Logged out."})
}

// confirmLogout waits, for at most logoutConfirmTimeout, until every replica
// refuses the logged-out token. When they do not in time it answers 503
// LOGOUT_UNCONFIRMED and returns false: the token is refused here already,
// and the logout reaches the others when the outbox gets it through (see
// package cluster), but a 200 would promise more than that.
func (s *Server) confirmLogout(w http.ResponseWriter, r *http.Request, e revocation.Entry, id *Identity) bool {
	// The main port's read deadline runs from the request's start
	// (Limits.ConfigureServer), and a read deadline that passes cancels the
	// request's context: a wait longer than what is left of it would end
	// early. Give the wait its own room.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.logoutConfirmTimeout + s.bodyTimeout))
	ctx, cancel := context.WithTimeout(r.Context(), s.logoutConfirmTimeout)
	defer cancel()
	start := time.Now()
	err := s.confirmer.Confirm(ctx, e)
	took := time.Since(start)
	s.metrics.logoutConfirm.Observe(took.Seconds())
	if err == nil {
		return true
	}
	s.metrics.logoutsUnconfirmed.Inc()
	// The revocation's name is a digest of the token id, never the token.
	s.log.Info("a logout is not confirmed by every replica; answered 503, the token stays refused here",
		"revocation", jack.RevocationName(e.ID), "user", id.User.ID, "waited", took.Round(time.Millisecond).String(), "reason", err.Error())
	refuse(w, errLogoutUnconfirmed)
	return false
}
