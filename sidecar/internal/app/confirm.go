package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/livefile"
	"github.com/jack-io/jack-operator/sidecar/internal/server"
)

// The operator asks every ready sidecar, at jack.SidecarConfirmPath on its
// ops port, whether it acts on a change the API server holds — a logout, a
// user's ended sessions, or a user's new password or email — so that the
// sidecar that made the change, or whoever made it with kubectl, can be
// answered only once every replica does. The request may wait for the answer
// (a long poll), so that the operator's round costs one request per sidecar
// rather than a poll every few milliseconds.

// maxConfirmWaiters bounds the /confirm requests waiting at once: the
// operator sends at most one per TokenRevocation and JackUser being
// confirmed, a few dozen at a time; the bound is there so that whoever can
// reach the ops port cannot pin goroutines without limit.
const maxConfirmWaiters = 512

// confirmKind is what a confirmation is about, and its metric label.
type confirmKind string

const (
	confirmRevocation confirmKind = "revocation"
	confirmUser       confirmKind = "user"
	confirmLogin      confirmKind = "login"
	// confirmInvalid labels queries that name none of them, or several.
	confirmInvalid confirmKind = "invalid"
)

// confirmQuery is a parsed /confirm query.
type confirmQuery struct {
	kind confirmKind
	// name is the TokenRevocation's or the JackUser's.
	name string
	// id, email, passwordVersion and disabled are the user a login
	// confirmation is about: status.id, spec.email, status.passwordVersion
	// and spec.disabled of the JackUser name. With disabled, the question
	// is whether the sidecar refuses the user as disabled, with their
	// current entry.
	id, email, passwordVersion string
	disabled                   bool
	// generation is the TokenRevocation's metadata.generation to hold at
	// least.
	generation int64
	// sessionsValidAfter is the time before which the user's tokens must be
	// refused.
	sessionsValidAfter time.Time
	// wait is how long to hold the answer for the change, at most
	// jack.SidecarConfirmMaxWait.
	wait time.Duration
}

// parseConfirmQuery reads a /confirm query (see jack.SidecarConfirmPath),
// with an error sentence for the answer when it is not one. A wait longer
// than jack.SidecarConfirmMaxWait is cut to it rather than refused: the
// operator may ask for more, in a later version, of a sidecar that allows
// less.
func parseConfirmQuery(q url.Values) (confirmQuery, error) {
	var c confirmQuery
	revocation, user, login := q.Get("revocation"), q.Get("user"), q.Get("login")
	switch {
	case countSet(revocation, user, login) > 1:
		return c, errors.New("name one of a revocation, a user or a login, not several")
	case revocation != "":
		g, err := strconv.ParseInt(q.Get("generation"), 10, 64)
		if err != nil || g < 1 {
			return c, fmt.Errorf("generation %q must be a positive whole number: the TokenRevocation's metadata.generation", q.Get("generation"))
		}
		c.kind, c.name, c.generation = confirmRevocation, revocation, g
	case user != "":
		t, err := time.Parse(time.RFC3339, q.Get("sessionsValidAfter"))
		if err != nil {
			return c, fmt.Errorf("sessionsValidAfter %q must be an RFC 3339 time such as 2026-11-27T10:00:00Z", q.Get("sessionsValidAfter"))
		}
		c.kind, c.name, c.sessionsValidAfter = confirmUser, user, t
	case login != "":
		var err error
		if c, err = parseLoginQuery(q); err != nil {
			return c, err
		}
	default:
		return c, errors.New("name a revocation (revocation=NAME&generation=G), a user (user=NAME&sessionsValidAfter=TIME)" +
			" or a login (login=NAME&id=ID&email=EMAIL&passwordVersion=V)")
	}
	if w := q.Get("wait"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			return c, fmt.Errorf("wait %q must be a duration such as 2s, at most %s", w, jack.SidecarConfirmMaxWait)
		}
		c.wait = min(d, jack.SidecarConfirmMaxWait)
	}
	return c, nil
}

// parseLoginQuery reads the parameters of a login confirmation.
func parseLoginQuery(q url.Values) (confirmQuery, error) {
	c := confirmQuery{kind: confirmLogin, name: q.Get("login"), id: q.Get("id"), email: q.Get("email"), passwordVersion: q.Get("passwordVersion")}
	for _, p := range []struct{ param, value, what string }{
		{"id", c.id, "the JackUser's status.id"},
		{"email", c.email, "its spec.email"},
		{"passwordVersion", c.passwordVersion, "its status.passwordVersion"},
	} {
		if p.value == "" {
			return c, fmt.Errorf("a login confirmation needs %s: %s", p.param, p.what)
		}
	}
	if d := q.Get("disabled"); d != "" {
		b, err := strconv.ParseBool(d)
		if err != nil {
			return c, fmt.Errorf("disabled %q must be true or false: the JackUser's spec.disabled", d)
		}
		c.disabled = b
	}
	return c, nil
}

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// revocationView and userView are the live views a confirmation reads:
// cluster.Revocations and cluster.Users. Changed returns a channel closed at
// the view's next change.
type revocationView interface {
	Held(name string, generation int64) bool
	Changed() <-chan struct{}
}

type userView interface {
	SessionsEnded(name string, at time.Time) bool
	PasswordCurrent(name, id, passwordVersion string) (current, disabled bool)
	Changed() <-chan struct{}
}

// directoryView is the loaded user directory (the mounted Secret's file):
// Changed returns a channel closed when the next version is loaded.
type directoryView interface {
	Holds(id, email, passwordVersion string) (holds, disabled bool)
	Changed() <-chan struct{}
}

// confirmer answers /confirm from the live views.
type confirmer struct {
	// revocations and users are nil without API credentials.
	revocations revocationView
	users       userView
	directory   directoryView
	waiters     chan struct{} // one slot per request waiting
	answers     *prometheus.CounterVec
}

// newConfirmer answers from the views (revocations and users nil without
// API credentials) and the loaded directory, with at most maxWaiters
// requests waiting at once.
func newConfirmer(revocations revocationView, users userView, directory directoryView, maxWaiters int, reg prometheus.Registerer) *confirmer {
	c := &confirmer{
		revocations: revocations, users: users, directory: directory, waiters: make(chan struct{}, maxWaiters),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_confirmations_total",
			Help: "Answers at /confirm, by kind (revocation, user, login, invalid) and result: held, not_held (the wait ended first), bad_request, busy (too many waiting).",
		}, []string{"kind", "result"}),
	}
	reg.MustRegister(c.answers)
	return c
}

// check reports whether the sidecar acts on the change q names, and the
// channels that are closed when what it read changes next (taken before the
// read, so that no change is missed): the watched view, and for a login the
// loaded directory too, whose next version the kubelet brings a minute or
// more after the operator writes it. A sidecar without API credentials
// holds everything: it runs alone, with no watch that could bring a change
// later, and its answers to logins and tokens already follow its own files
// — nothing waits on it, and nobody else could accept a token through it.
func (c *confirmer) check(q confirmQuery) (held bool, viewChanged, fileChanged <-chan struct{}) {
	switch {
	case q.kind == confirmRevocation && c.revocations != nil:
		changed := c.revocations.Changed()
		return c.revocations.Held(q.name, q.generation), changed, nil
	case q.kind == confirmUser && c.users != nil:
		changed := c.users.Changed()
		return c.users.SessionsEnded(q.name, q.sessionsValidAfter), changed, nil
	case q.kind == confirmLogin && c.users != nil:
		changed, loaded := c.users.Changed(), c.directory.Changed()
		holds, fileDisabled := c.directory.Holds(q.id, q.email, q.passwordVersion)
		current, liveDisabled := c.users.PasswordCurrent(q.name, q.id, q.passwordVersion)
		return loginHeld(holds, current, fileDisabled || liveDisabled, q.disabled), changed, loaded
	default:
		return true, nil, nil
	}
}

var errTooManyWaiting = &api.Error{Code: api.CodeNotReady, RetryAfter: time.Second,
	Message: "Too many confirmations are waiting already; ask again without wait, or later."}

// ServeHTTP answers jack.SidecarConfirmPath with a jack.Confirmation,
// holding the answer up to the query's wait until the change is held.
func (c *confirmer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := parseConfirmQuery(r.URL.Query())
	if err != nil {
		c.answers.WithLabelValues(string(confirmInvalid), "bad_request").Inc()
		api.WriteError(w, &api.Error{Code: api.CodeBadRequest, Message: "The confirmation query is not valid: " + err.Error() + "."})
		return
	}
	held, changed, loaded := c.check(q)
	if !held && q.wait > 0 {
		select {
		case c.waiters <- struct{}{}:
			defer func() { <-c.waiters }()
		default:
			c.answers.WithLabelValues(string(q.kind), "busy").Inc()
			api.WriteError(w, errTooManyWaiting)
			return
		}
		timer := time.NewTimer(q.wait)
		defer timer.Stop()
	wait:
		for !held {
			select {
			case <-changed:
				held, changed, loaded = c.check(q)
			case <-loaded:
				held, changed, loaded = c.check(q)
			case <-timer.C:
				break wait
			case <-r.Context().Done():
				return // the operator gave up; nobody reads an answer
			}
		}
	}
	result := "not_held"
	if held {
		result = "held"
	}
	c.answers.WithLabelValues(string(q.kind), result).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(jack.Confirmation{Held: held})
}

// loginHeld decides a login confirmation as a login decides
// (server.Server.passwordMatches and current): the directory holds the
// user's id under the email with a hash of the password version, the live
// view does not know that version superseded, and the user is disabled —
// by either — exactly when the question says so: a user not disabled
// logs in, and a disabled one is refused with their current entry, which
// logs them in once they are enabled and the directory says so too.
func loginHeld(holds, current, disabled, wantDisabled bool) bool {
	return holds && current && disabled == wantDisabled
}

// loadedUsers is the loaded user directory as /confirm reads it: nothing
// is held before the first load.
type loadedUsers struct{ file *livefile.File[*server.Users] }

func (l loadedUsers) Holds(id, email, passwordVersion string) (holds, disabled bool) {
	users, ok := l.file.Load()
	if !ok {
		return false, false
	}
	return users.Holds(id, email, passwordVersion)
}

func (l loadedUsers) Changed() <-chan struct{} { return l.file.Changed() }
