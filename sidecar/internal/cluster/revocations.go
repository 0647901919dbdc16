package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
	"github.com/jack-io/jack-operator/sidecar/internal/notify"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/session"
)

// TokenRevocation is a TokenRevocation object as the sidecar writes and
// reads it.
type TokenRevocation struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   revocationMetadata `json:"metadata"`
	Spec       revocationSpec     `json:"spec"`
	Status     revocationStatus   `json:"status,omitzero"`
}

type revocationMetadata struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Generation is the API server's: 1 at creation, one more with every
	// change of the spec. It is what the operator confirms.
	Generation int64 `json:"generation,omitempty"`
	// ResourceVersion is the version a session's patch applies to.
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// revocationStatus is the operator's: the generation every ready sidecar
// of the SigningKey confirmed it acts on.
type revocationStatus struct {
	ConfirmedGeneration int64 `json:"confirmedGeneration,omitempty"`
}

// revocationSpec names either a token (TokenID, for one issued before
// sessions existed) or a session (SessionID and its session.Record).
type revocationSpec struct {
	SigningKey   string    `json:"signingKey"`
	TokenID      string    `json:"tokenID,omitempty"`
	SessionID    string    `json:"sessionID,omitempty"`
	Ended        bool      `json:"ended,omitempty"`
	EndedBecause string    `json:"endedBecause,omitempty"`
	Generation   int64     `json:"generation,omitempty"`
	GraceUntil   time.Time `json:"graceUntil,omitzero"`
	UserID       string    `json:"userID,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

// record is the session.Record a session's spec holds.
func (s revocationSpec) record() session.Record {
	return session.Record{Ended: s.Ended, EndedBecause: s.EndedBecause, Generation: s.Generation, GraceUntil: s.GraceUntil, ExpiresAt: s.ExpiresAt}
}

// API creates, reads and patches objects; *kube.Client is one.
type API interface {
	Create(ctx context.Context, path string, obj any) error
	Get(ctx context.Context, path string, into any) error
	MergePatch(ctx context.Context, path string, patch, into any) error
}

// Revocations is the sidecar's revocation store when it has API access. It
// is a revocation.Store (for the server) and a kube.Handler[TokenRevocation]
// (for the reflector watching the SigningKey's revocations). It also keeps
// what the watch said of each TokenRevocation — its generation and the
// generation the operator confirmed — for /confirm and for a logout waiting
// for its confirmation (confirm.go).
//
// Its view of each session is the local file's record (revocation.File
// Session): every record the watch brings is merged into it, and so is
// every refresh, logout and reuse this sidecar records, which the outbox
// then writes to the session's TokenRevocation (sessions.go). A relist
// never forgets a record that was not written yet, since the file keeps
// it, merged, and the outbox writes what the API server lacks.
type Revocations struct {
	local      *revocation.File
	api        API
	path       string
	namespace  string
	signingKey string
	now        func() time.Time
	log        logr.Logger

	mu       sync.Mutex
	pending  map[string]revocation.Entry // to create, by token id
	creating map[string]*creation        // creates in flight, by token id
	// pendingSessions are the sessions whose local record the API server
	// may not hold yet, with their subject, by session id.
	pendingSessions map[string]string
	writing         map[string]chan struct{}  // session writes in flight, by session id; closed when done
	seen            map[string]seenRevocation // the watched TokenRevocations, by name
	wake            chan struct{}
	changes         notify.Changes // notified when seen changes
}

// RevocationsConfig configures NewRevocations.
type RevocationsConfig struct {
	// Local holds every revocation this sidecar knows, its own and learned,
	// and is the outbox of those not yet created (see the package doc).
	Local *revocation.File
	// API creates and reads TokenRevocations in Namespace.
	API        API
	Namespace  string
	SigningKey string
	Log        logr.Logger
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// NewRevocations returns the store; Run creates what Revoke records.
func NewRevocations(cfg RevocationsConfig) *Revocations {
	r := &Revocations{
		local: cfg.Local, api: cfg.API, namespace: cfg.Namespace, signingKey: cfg.SigningKey, log: cfg.Log, now: cfg.Now,
		path:     kube.CollectionPath(jack.Group, jack.Version, cfg.Namespace, jack.ResourceTokenRevocations),
		pending:  map[string]revocation.Entry{},
		creating: map[string]*creation{},
		seen:     map[string]seenRevocation{},
		wake:     make(chan struct{}, 1),

		pendingSessions: map[string]string{},
		writing:         map[string]chan struct{}{},
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// ListWatch is the collection the reflector should keep current: this
// SigningKey's revocations in the namespace.
func (r *Revocations) ListWatch() kube.ListWatch {
	return kube.ListWatch{Path: r.path, LabelSelector: jack.LabelSigningKey + "=" + r.signingKey}
}

// Revoke implements revocation.Store: the token is refused here once Revoke
// returns (durably, in the local file), and at every other replica once the
// TokenRevocation is created, which Run does next (or Confirm, when the
// caller waits for every replica).
func (r *Revocations) Revoke(e revocation.Entry) error {
	if err := r.local.Revoke(e); err != nil {
		return err
	}
	r.enqueue(e)
	return nil
}

// Revoked implements revocation.Store.
func (r *Revocations) Revoked(jti string, now time.Time) bool { return r.local.Revoked(jti, now) }

// Pending is the number of revocations and sessions not yet written to the
// API server.
func (r *Revocations) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending) + len(r.pendingSessions)
}

// Replace implements kube.Handler: every listed revocation and session is
// added to the local ones, and what the API server lacks of the local ones
// (logouts, refreshes and reuses while it was unreachable, or before a
// restart) is written.
func (r *Revocations) Replace(items []TokenRevocation) {
	listed := make(map[string]bool, len(items))
	listedSessions := make(map[string]session.Record)
	entries := make([]revocation.Entry, 0, len(items))
	var sessions []revocation.SessionEntry
	for _, it := range items {
		switch {
		case it.Spec.TokenID != "":
			listed[it.Spec.TokenID] = true
			entries = append(entries, entryOf(it))
		case it.Spec.SessionID != "":
			listedSessions[it.Spec.SessionID] = it.Spec.record()
			sessions = append(sessions, sessionEntryOf(it))
		}
	}
	r.learn(entries)
	r.learnSessions(sessions)
	now := r.now()
	for _, e := range r.local.Live(now) {
		if !listed[e.ID] {
			r.enqueue(e)
		}
	}
	for _, e := range r.local.LiveSessions(now) {
		if stored, ok := listedSessions[e.ID]; !ok || !stored.Holds(e.Record) {
			r.enqueueSession(e.ID, e.Subject)
		}
	}
	r.mu.Lock()
	clear(r.seen)
	for _, it := range items {
		r.seen[it.Metadata.Name] = seenOf(it)
	}
	r.mu.Unlock()
	r.changes.Notify()
}

// Upsert implements kube.Handler: another replica's logout, refresh or
// reuse (or this one's, coming back), or the operator's confirmation of
// one in its status.
func (r *Revocations) Upsert(it TokenRevocation) {
	sid := it.Spec.SessionID
	switch {
	case it.Spec.TokenID != "":
		r.learn([]revocation.Entry{entryOf(it)})
	case sid != "":
		r.learnSessions([]revocation.SessionEntry{sessionEntryOf(it)})
	}
	r.mu.Lock()
	if it.Spec.TokenID != "" {
		delete(r.pending, it.Spec.TokenID)
	}
	r.see(it.Metadata.Name, seenOf(it))
	r.mu.Unlock()
	if sid != "" {
		r.sentSession(sid, it.Spec.record())
	}
	r.changes.Notify()
}

// see notes what the API server holds of a TokenRevocation, from the watch
// or from a write's answer, whichever comes first; the caller holds mu. A
// write's answer can be overtaken by the watch — by a later write, or by
// the operator's confirmation of this one, which takes a round trip to
// every sidecar but no longer than a busy machine can take to hand the
// writer its answer — and what it says is older then: an older generation,
// or the same one less confirmed (confirmedGeneration never goes back for
// one object). That is not noted: noting it would take back a confirmation
// that a waiting logout needs, and no later event would bring it again.
func (r *Revocations) see(name string, s seenRevocation) {
	if old, ok := r.seen[name]; ok && (s.generation < old.generation || s.generation == old.generation && s.confirmed < old.confirmed) {
		return
	}
	r.seen[name] = s
}

// Delete implements kube.Handler. The operator deletes a revocation once its
// token has expired; the local copy expires by itself.
func (r *Revocations) Delete(it TokenRevocation) {
	r.mu.Lock()
	delete(r.seen, it.Metadata.Name)
	r.mu.Unlock()
	r.changes.Notify()
}

func entryOf(it TokenRevocation) revocation.Entry {
	return revocation.Entry{ID: it.Spec.TokenID, Subject: it.Spec.UserID, Expires: it.Spec.ExpiresAt}
}

func (r *Revocations) learn(entries []revocation.Entry) {
	if len(entries) == 0 {
		return
	}
	if err := r.local.RevokeAll(entries); err != nil {
		// A write error leaves them held in memory; a full store (past twice
		// its bound, see revocation.ErrFull) drops the excess, counted as
		// learned_dropped. Either way the next list from the API server
		// brings them back once there is room.
		r.log.Error(err, "recording revocations from the API server in the local file")
	}
}

func (r *Revocations) enqueue(e revocation.Entry) {
	r.mu.Lock()
	r.pending[e.ID] = e
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run creates pending revocations and writes pending sessions until ctx
// ends, retrying failures with a backoff (from 200 ms to 10 s) so a logout
// or a refresh made while the API server is unreachable, or before the
// operator granted access, reaches it later.
func (r *Revocations) Run(ctx context.Context) {
	delay := time.Duration(0)
	for {
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
			}
		}
		if err := r.flush(ctx); err != nil {
			if delay == 0 {
				r.log.Error(err, "sharing a logout or a session with the other replicas; retrying", "pending", r.Pending())
			}
			delay = min(max(2*delay, 200*time.Millisecond), 10*time.Second)
			continue
		}
		if delay > 0 {
			r.log.Info("logouts and sessions shared with the other replicas again")
		}
		delay = 0
	}
}

// flush creates every pending revocation and writes every pending session,
// stopping at the first failure.
func (r *Revocations) flush(ctx context.Context) error {
	if err := r.flushTokens(ctx); err != nil {
		return err
	}
	return r.flushSessions(ctx)
}

func (r *Revocations) flushTokens(ctx context.Context) error {
	for {
		r.mu.Lock()
		var e revocation.Entry
		found := false
		for _, p := range r.pending {
			e, found = p, true
			break
		}
		r.mu.Unlock()
		if !found {
			return nil
		}
		if r.now().Before(e.Expires) {
			if _, err := r.create(ctx, e); err != nil {
				return err
			}
		}
		r.sent(e)
	}
}

// sent takes e off the outbox: its TokenRevocation exists.
func (r *Revocations) sent(e revocation.Entry) {
	r.mu.Lock()
	if p, ok := r.pending[e.ID]; ok && p == e {
		delete(r.pending, e.ID)
	}
	r.mu.Unlock()
}

// creation is a create of one TokenRevocation in flight. The outbox and a
// logout waiting for its confirmation both create the logout's object, the
// moment it is recorded; the second to ask waits for the first's answer
// rather than send the same object again and read it back after its
// AlreadyExists.
type creation struct {
	done   chan struct{}
	stored *TokenRevocation // nil when it existed already
	err    error
}

// create creates e's TokenRevocation and returns it as the API server
// stored it, or nil when it existed already.
func (r *Revocations) create(ctx context.Context, e revocation.Entry) (*TokenRevocation, error) {
	r.mu.Lock()
	c, joined := r.creating[e.ID]
	if !joined {
		c = &creation{done: make(chan struct{})}
		r.creating[e.ID] = c
	}
	r.mu.Unlock()
	if joined {
		select {
		case <-c.done:
			return c.stored, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	obj := r.object(e)
	switch err := r.api.Create(ctx, r.path, &obj); {
	case err == nil:
		c.stored = &obj
	case !kube.IsAlreadyExists(err):
		c.err = err
	}
	r.mu.Lock()
	delete(r.creating, e.ID)
	r.mu.Unlock()
	close(c.done)
	return c.stored, c.err
}

func (r *Revocations) object(e revocation.Entry) TokenRevocation {
	return TokenRevocation{
		APIVersion: jack.Group + "/" + jack.Version,
		Kind:       "TokenRevocation",
		Metadata: revocationMetadata{
			Name: jack.RevocationName(e.ID), Namespace: r.namespace,
			Labels: map[string]string{jack.LabelSigningKey: r.signingKey},
		},
		Spec: revocationSpec{SigningKey: r.signingKey, TokenID: e.ID, UserID: e.Subject, ExpiresAt: e.Expires.UTC()},
	}
}
