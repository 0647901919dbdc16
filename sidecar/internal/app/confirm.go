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
)

// The operator asks every ready sidecar, at jack.SidecarConfirmPath on its
// ops port, whether it acts on a change the API server holds — a logout, or
// a user's ended sessions — so that the sidecar that made the change can
// answer only once every replica does. The request may wait for the answer
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
	// confirmInvalid labels queries that name neither, or both.
	confirmInvalid confirmKind = "invalid"
)

// confirmQuery is a parsed /confirm query.
type confirmQuery struct {
	kind confirmKind
	// name is the TokenRevocation's or the JackUser's.
	name string
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
	revocation, user := q.Get("revocation"), q.Get("user")
	switch {
	case revocation != "" && user != "":
		return c, errors.New("name either a revocation or a user, not both")
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
	default:
		return c, errors.New("name a revocation (revocation=NAME&generation=G) or a user (user=NAME&sessionsValidAfter=TIME)")
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

// revocationView and userView are the live views a confirmation reads:
// cluster.Revocations and cluster.Users. Changed returns a channel closed at
// the view's next change.
type revocationView interface {
	Held(name string, generation int64) bool
	Changed() <-chan struct{}
}

type userView interface {
	SessionsEnded(name string, at time.Time) bool
	Changed() <-chan struct{}
}

// confirmer answers /confirm from the live views.
type confirmer struct {
	// revocations and users are nil without API credentials.
	revocations revocationView
	users       userView
	waiters     chan struct{} // one slot per request waiting
	answers     *prometheus.CounterVec
}

// newConfirmer answers from the views (nil without API credentials), with
// at most maxWaiters requests waiting at once.
func newConfirmer(revocations revocationView, users userView, maxWaiters int, reg prometheus.Registerer) *confirmer {
	c := &confirmer{
		revocations: revocations, users: users, waiters: make(chan struct{}, maxWaiters),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_confirmations_total",
			Help: "Answers at /confirm, by kind (revocation, user, invalid) and result: held, not_held (the wait ended first), bad_request, busy (too many waiting).",
		}, []string{"kind", "result"}),
	}
	reg.MustRegister(c.answers)
	return c
}

// check reports whether the sidecar acts on the change q names, and the
// channel that is closed when the view it read changes next (taken before
// the read, so that no change is missed). A sidecar without API
// credentials holds everything: it runs alone, with no watch that could
// bring a change later, and its answers to logins and tokens already
// follow its own files — nothing waits on it, and nobody else could
// accept a token through it.
func (c *confirmer) check(q confirmQuery) (bool, <-chan struct{}) {
	switch {
	case q.kind == confirmRevocation && c.revocations != nil:
		changed := c.revocations.Changed()
		return c.revocations.Held(q.name, q.generation), changed
	case q.kind == confirmUser && c.users != nil:
		changed := c.users.Changed()
		return c.users.SessionsEnded(q.name, q.sessionsValidAfter), changed
	default:
		return true, nil
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
	held, changed := c.check(q)
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
				held, changed = c.check(q)
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
