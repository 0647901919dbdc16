package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// maxLoginBody bounds a login request: an email and a password fit in far less.
const maxLoginBody = 4 << 10

var (
	errBadCredentials = &api.Error{Code: api.CodeInvalidCredentials, Message: "The email or password is incorrect."}
	errThrottled      = &api.Error{Code: api.CodeTooManyRequests, Message: "Too many login attempts. Try again later."}
)

type loginRequest struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

// grant is the data of a login or refresh answer, exactly as Jack's
// clients expect it.
type grant struct {
	Token     string      `json:"token"`
	ExpiresAt string      `json:"expiresAt"`
	User      sessionUser `json:"user"`
}

type sessionUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// login checks an email and password and answers with a token. Unknown
// emails, disabled users and wrong passwords cost the same argon2id work and
// get the same answer, so none can be told apart.
func (s *Server) login(w http.ResponseWriter, r *http.Request, ex *exchange) {
	// A slow body holds a connection, not a password check: it is cut off.
	_ = http.NewResponseController(w).SetReadDeadline(s.now().Add(s.bodyTimeout))
	req, apiErr := decodeLogin(w, r)
	if apiErr != nil {
		refuse(w, apiErr)
		return
	}
	ex.bodyPending = false // read to its end: the connection may be kept
	now := s.now()
	client, account := ex.client, strings.ToLower(*req.Email)
	if ok, wait := s.clientLimit.Take(client, now); !ok {
		s.throttled(w, "client", wait)
		return
	}
	if ok, wait := s.accountLimit.Check(account, now); !ok {
		s.throttled(w, "account", wait)
		return
	}
	users, ok := s.src.Users()
	if !ok {
		refuse(w, errUsersNotReady)
		return
	}
	keys, ok := s.src.Keys()
	if !ok {
		refuse(w, errKeysNotLoaded)
		return
	}

	cur, ok := s.checkPassword(w, r, users, account, *req.Password, now)
	if !ok || !s.awaitSessionsEnd(w, r, cur) {
		return
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	// The zero Session: a login starts one.
	s.issue(w, keys, cur, token.Session{}, nil)
}

// checkPassword checks the password in one of the bounded slots and says
// who logs in, as of the live view. When it cannot, it has answered.
func (s *Server) checkPassword(w http.ResponseWriter, r *http.Request, users *Users, account, pw string, now time.Time) (userdir.User, bool) {
	// A bounded number of checks run at once, each holding its argon2id
	// memory: past them a login waits a little, then is told to come back,
	// rather than take the sidecar past its memory limit.
	if ok, busy := s.checks.acquire(r.Context()); !ok {
		if busy != nil {
			refuse(w, busy)
		}
		return userdir.User{}, false
	}
	defer s.checks.release()
	u, found := users.Index.ByEmail(account)
	if !s.passwordMatches(u, found, pw) {
		s.accountLimit.Take(account, now)
		s.metrics.logins.WithLabelValues("refused").Inc()
		refuse(w, errBadCredentials)
		return userdir.User{}, false
	}
	cur, refusal := s.current(u)
	if refusal != "" || cur.Disabled {
		s.metrics.logins.WithLabelValues("refused").Inc()
		refuse(w, errBadCredentials)
		return userdir.User{}, false
	}
	return cur, true
}

// maxSessionsEndHold is the longest a login waits for its user's
// sessionsValidAfter (awaitSessionsEnd): under a second when the operator's
// clock and the sidecar's agree, and a second more for skew between them.
const maxSessionsEndHold = 2 * time.Second

// awaitSessionsEnd holds a login that comes before u's sessionsValidAfter
// until it has passed, and reports whether the login may go on. The
// operator rounds the end of a user's sessions up to the second, and a
// session's login time is a whole second, so a session started in the
// second the sessions ended — after they ended: this sidecar already knows
// of it — would be one every replica refuses as begun before the end. A
// user logging in again right after an admin ended their sessions, or
// after their own password change, waits for that second instead, with no
// slot held. A sessionsValidAfter further ahead (the operator's clock runs
// ahead of this sidecar's) is answered 503 with Retry-After, not a token
// that no replica would accept.
func (s *Server) awaitSessionsEnd(w http.ResponseWriter, r *http.Request, u userdir.User) bool {
	hold := u.SessionsValidAfter.Sub(s.now())
	if hold <= 0 {
		return true
	}
	if hold <= maxSessionsEndHold {
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return false // the client left: no one to answer
		case <-t.C:
		}
		if hold = u.SessionsValidAfter.Sub(s.now()); hold <= 0 {
			return true
		}
	}
	s.metrics.logins.WithLabelValues("sessions ending").Inc()
	refuse(w, &api.Error{Code: api.CodeNotReady, RetryAfter: hold,
		Message: "Your sessions were ended a moment ago; log in again in a few seconds."})
	return false
}

func (s *Server) passwordMatches(u *userdir.User, found bool, pw string) bool {
	if !found || u.Disabled || u.PasswordHash == "" || !s.passwordCurrent(u) {
		password.DummyVerify(pw)
		return false
	}
	ok, err := password.Verify(u.PasswordHash, pw)
	return err == nil && ok
}

var errNoSigner = &api.Error{Code: api.CodeNotReady, Message: "The sidecar has no key to sign with yet.", RetryAfter: 5 * time.Second}

// issue signs a token for u in session sess and writes the answer.
// record, when set, is called with the signed claims before the answer,
// and an error it returns is the answer instead: the token is never handed
// out.
func (s *Server) issue(w http.ResponseWriter, keys *Keys, u userdir.User, sess token.Session, record func(token.Claims) *api.Error) {
	key := keys.Signer(s.signing)
	if key == nil {
		// The ring has no active key, or only one the SigningKey revokes
		// while the key replacing it is not here yet: the kubelet brings
		// it within a minute or two.
		s.log.Info("no key may sign; a token is refused until the key ring names one", "user", u.ID)
		refuse(w, errNoSigner)
		return
	}
	tok, claims, err := token.Sign(keys.Ring, key, subjectOf(u), sess, s.now())
	if errors.Is(err, token.ErrSessionOver) {
		// A refresh in the session's last second: no token could last one.
		refuse(w, errExpired)
		return
	}
	if err != nil {
		s.log.Error(err, "signing a token", "user", u.ID)
		refuse(w, &api.Error{Code: api.CodeInternal, Message: "The token could not be signed."})
		return
	}
	if record != nil {
		if e := record(claims); e != nil {
			refuse(w, e)
			return
		}
	}
	api.WriteData(w, http.StatusOK, grant{
		Token:     tok,
		ExpiresAt: claims.ExpiresAt.UTC().Format(time.RFC3339),
		User:      sessionUser{ID: u.ID, Name: u.Name, Email: u.Email, Role: string(u.Role)},
	})
}

func (s *Server) throttled(w http.ResponseWriter, scope string, wait time.Duration) {
	s.metrics.throttled.WithLabelValues(scope).Inc()
	refuse(w, &api.Error{Code: errThrottled.Code, Message: errThrottled.Message, RetryAfter: wait})
}

// decodeLogin reads a login body strictly: JSON, small, two strings.
func decodeLogin(w http.ResponseWriter, r *http.Request) (*loginRequest, *api.Error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &api.Error{Code: api.CodeUnsupportedMediaType, Message: "Send the login as JSON with Content-Type: application/json."}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody))
	var req loginRequest
	if err := dec.Decode(&req); err != nil {
		return nil, bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &api.Error{Code: api.CodeBadRequest, Message: "The request body must hold one JSON object."}
	}
	switch {
	case req.Email == nil || req.Password == nil || *req.Email == "" || *req.Password == "":
		return nil, &api.Error{Code: api.CodeValidation, Message: "email and password are required."}
	case len(*req.Email) > 254:
		return nil, &api.Error{Code: api.CodeValidation, Message: "email must have at most 254 characters."}
	case len(*req.Password) > 1024:
		return nil, &api.Error{Code: api.CodeValidation, Message: "password must have at most 1024 bytes."}
	}
	return &req, nil
}

func bodyError(err error) *api.Error {
	var tooBig *http.MaxBytesError
	var typ *json.UnmarshalTypeError
	var timeout net.Error
	switch {
	case errors.As(err, &timeout) && timeout.Timeout():
		// The body deadline (--body-timeout) passed before the body came.
		return &api.Error{Code: api.CodeRequestTimeout, Message: "The request body did not arrive in time."}
	case errors.As(err, &tooBig):
		return &api.Error{Code: api.CodePayloadTooLarge, Message: "The request body is larger than 4 KiB."}
	case errors.As(err, &typ):
		return &api.Error{Code: api.CodeBadRequest, Message: typ.Field + " must be a string."}
	case errors.Is(err, io.EOF):
		return &api.Error{Code: api.CodeBadRequest, Message: "The request body is empty; send {\"email\":...,\"password\":...}."}
	default:
		return &api.Error{Code: api.CodeBadRequest, Message: "The request body is not valid JSON."}
	}
}

var (
	errRefreshThrottled = &api.Error{Code: api.CodeTooManyRequests, Message: "Too many refreshes of this token or this account. Try again later."}
	errLogoutThrottled  = &api.Error{Code: api.CodeTooManyRequests, Message: "Too many logouts for this account. Try again later."}
)

// sessionThrottled spends one refresh or logout of the user (and of the
// token, for a refresh), answering 429 when none is left.
func (s *Server) sessionThrottled(w http.ResponseWriter, id *Identity, perToken bool, refusal *api.Error) bool {
	now := s.now()
	if perToken {
		if ok, wait := s.tokenLimit.Take(id.Claims.ID, now); !ok {
			s.metrics.throttled.WithLabelValues("token").Inc()
			refuse(w, &api.Error{Code: refusal.Code, Message: refusal.Message, RetryAfter: wait})
			return true
		}
	}
	if ok, wait := s.userLimit.Take(id.User.ID, now); !ok {
		s.metrics.throttled.WithLabelValues("user").Inc()
		refuse(w, &api.Error{Code: refusal.Code, Message: refusal.Message, RetryAfter: wait})
		return true
	}
	return false
}

// subjectOf is who a token for u is issued to.
func subjectOf(u userdir.User) token.Subject {
	return token.Subject{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role}
}
