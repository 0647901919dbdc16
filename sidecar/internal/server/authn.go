package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jack-io/jack-operator/internal/apikey"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/apikeys"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
	"github.com/jack-io/jack-operator/sidecar/internal/session"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// Identity is who a verified request comes from: the token's claims and the
// user as they are now — the directory's entry with what the live view knows
// since — so a demotion applies at once.
//
// For an API key, Key is set, Claims are empty, and User holds only the
// id Jack is told ("apikey:" and the key's status.id) and the key's role.
type Identity struct {
	Claims token.Claims
	User   userdir.User
	Key    *apikeys.Key
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

// WithAuthentication verifies the bearer token of every request that needs
// one (the API, refresh and logout) and puts who it comes from in the
// request's exchange, for the steps after it. Only the Authorization
// header that WithResolution took is read: a token in the URL never is.
func WithAuthentication(s *Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(w)
		if isSessionArea(ex.area) {
			if _, ok := bearerAPIKey(ex.credential); ok {
				refuse(w, errAPIKeyNotHere)
				return
			}
		}
		if needsToken(ex.area) {
			if e := s.authenticate(ex, &ex.id, ex.area == policy.AreaLogout); e != nil {
				refuse(w, e)
				return
			}
			ex.authenticated = true
		}
		next.ServeHTTP(w, r)
	})
}

// needsToken is false for what Jack serves to anyone, the web app outside
// its API, and for the login; the auth API's other paths are answered
// without one.
func needsToken(a policy.Area) bool {
	return a == policy.AreaAPI || a == policy.AreaRefresh || a == policy.AreaLogout
}

// authenticate verifies a credential, the Authorization header's value,
// into id. loggingOut lets a token through that is refused only because it
// was logged out, or its session ended: logging it out again is how a
// client retries a logout that was not confirmed everywhere (see logout),
// and it grants nothing.
//
// A bearer credential with the API key prefix is an API key
// (authenticateAPIKey), never a JWT.
func (s *Server) authenticate(ex *exchange, id *Identity, loggingOut bool) *api.Error {
	h := ex.credential
	if h == "" {
		return errNoHeader
	}
	// Anything after one space is the token; the verifier refuses a token
	// with spaces or other characters base64url does not use.
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return errNotBearer
	}
	if apikey.LooksLikeKey(raw) {
		return s.authenticateAPIKey(raw, id, ex)
	}
	keys, ok := s.src.Keys()
	if !ok {
		return errKeysNotLoaded
	}
	now := s.now()
	claims, err := keys.Verifier.Verify(raw, now)
	if err != nil {
		s.metrics.tokenRefusals.WithLabelValues(token.Reason(err)).Inc()
		if errors.Is(err, token.ErrExpired) {
			return errExpired
		}
		return errBadToken
	}
	if s.keyRevoked(claims.KeyID) {
		// The SigningKey revokes the key; the ring file without it may be
		// a kubelet period away.
		s.metrics.tokenRefusals.WithLabelValues("revoked key").Inc()
		return errBadToken
	}
	users, ok := s.src.Users()
	if !ok {
		return errUsersNotReady
	}
	entry, ok := users.Index.ByID(claims.Subject)
	if !ok {
		s.metrics.tokenRefusals.WithLabelValues("unknown user").Inc()
		return errUnknownUser
	}
	u, refusal := s.current(entry)
	switch {
	case refusal != "":
		s.metrics.tokenRefusals.WithLabelValues(refusal).Inc()
		return errUnknownUser
	case u.Disabled:
		s.metrics.tokenRefusals.WithLabelValues("disabled user").Inc()
		return errDisabled
	case session.LoginTime(claims).Before(u.SessionsValidAfter):
		// The password changed, the user was disabled or their sessions
		// were ended after this token's login: every session from before
		// is over, however recently one of its tokens was refreshed.
		s.metrics.tokenRefusals.WithLabelValues("sessions ended").Inc()
		return errExpired
	case !loggingOut && s.revocations.Revoked(claims.ID, now):
		// A token without a session is logged out by its jti; so was one
		// with a session by a sidecar from before sessions.
		s.metrics.tokenRefusals.WithLabelValues("logged out").Inc()
		return errLoggedOut
	}
	if e := s.checkSession(claims, u.ID, now, loggingOut); e != nil {
		return e
	}
	*id = Identity{Claims: claims, User: u}
	return nil
}
