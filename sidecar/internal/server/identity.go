package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jack-io/jack-operator/internal/token"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
)

// Identity is who a verified request comes from: the token's claims and the
// user as they are now — the directory's entry with what the live view knows
// since — so a demotion applies at once.
type Identity struct {
	Claims token.Claims
	User   userdir.User
}

type identityKey struct{}

func withIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity a request was verified as, if any.
func IdentityFrom(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok
}

var (
	errNoHeader      = &api.Error{Code: api.CodeTokenMissing, Message: "The Authorization header is missing. Send: Authorization: Bearer <token>."}
	errNotBearer     = &api.Error{Code: api.CodeTokenInvalid, Message: "The Authorization header must be: Bearer <token>."}
	errBadToken      = &api.Error{Code: api.CodeTokenInvalid, Message: "The token is invalid."}
	errExpired       = &api.Error{Code: api.CodeTokenExpired, Message: api.MessageTokenExpired}
	errUnknownUser   = &api.Error{Code: api.CodeTokenInvalid, Message: "The token's user no longer exists."}
	errDisabled      = &api.Error{Code: api.CodeTokenInvalid, Message: "This account is disabled."}
	errLoggedOut     = &api.Error{Code: api.CodeTokenInvalid, Message: "The token was logged out."}
	errKeysNotLoaded = &api.Error{Code: api.CodeNotReady, Message: "The sidecar has not loaded its keys yet.", RetryAfter: time.Second}
	errUsersNotReady = &api.Error{Code: api.CodeNotReady, Message: "The sidecar has not loaded its users yet.", RetryAfter: time.Second}
)

// authenticate verifies the bearer token of r. Only the Authorization header
// is read: a token in the URL is never looked at.
func (s *Server) authenticate(r *http.Request) (*Identity, *api.Error) {
	h := header(r.Header, "Authorization")
	if h == "" {
		return nil, errNoHeader
	}
	// Anything after one space is the token; the verifier refuses a token
	// with spaces or other characters base64url does not use.
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, errNotBearer
	}
	keys, ok := s.src.Keys()
	if !ok {
		return nil, errKeysNotLoaded
	}
	now := s.now()
	claims, err := keys.Verifier.Verify(raw, now)
	if err != nil {
		s.metrics.tokenRefusals.WithLabelValues(token.Reason(err)).Inc()
		if errors.Is(err, token.ErrExpired) {
			return nil, errExpired
		}
		return nil, errBadToken
	}
	users, ok := s.src.Users()
	if !ok {
		return nil, errUsersNotReady
	}
	entry, ok := users.Index.ByID(claims.Subject)
	if !ok {
		s.metrics.tokenRefusals.WithLabelValues("unknown user").Inc()
		return nil, errUnknownUser
	}
	u, refusal := s.current(entry)
	switch {
	case refusal != "":
		s.metrics.tokenRefusals.WithLabelValues(refusal).Inc()
		return nil, errUnknownUser
	case u.Disabled:
		s.metrics.tokenRefusals.WithLabelValues("disabled user").Inc()
		return nil, errDisabled
	case claims.IssuedAt.Before(u.SessionsValidAfter):
		// The password changed or the user was disabled after this token
		// was issued: every session from before is over.
		s.metrics.tokenRefusals.WithLabelValues("sessions ended").Inc()
		return nil, errExpired
	case s.revocations.Revoked(claims.ID, now):
		s.metrics.tokenRefusals.WithLabelValues("logged out").Inc()
		return nil, errLoggedOut
	}
	return &Identity{Claims: claims, User: u}, nil
}

// header reads a header by its canonical name without canonicalizing it
// again: Go's server stores incoming names canonical, and this runs several
// times a request.
func header(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}
