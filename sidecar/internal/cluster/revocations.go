package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
)

// TokenRevocation is a TokenRevocation object as the sidecar writes and
// reads it.
type TokenRevocation struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   revocationMetadata `json:"metadata"`
	Spec       revocationSpec     `json:"spec"`
}

type revocationMetadata struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

type revocationSpec struct {
	SigningKey string    `json:"signingKey"`
	TokenID    string    `json:"tokenID"`
	UserID     string    `json:"userID,omitempty"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// Creator creates an object in a collection; *kube.Client is one.
type Creator interface {
	Create(ctx context.Context, path string, obj any) error
}

// Revocations is the sidecar's revocation store when it has API access. It
// is a revocation.Store (for the server) and a kube.Handler[TokenRevocation]
// (for the reflector watching the SigningKey's revocations).
type Revocations struct {
	local      *revocation.File
	api        Creator
	path       string
	namespace  string
	signingKey string
	now        func() time.Time
	log        logr.Logger

	mu      sync.Mutex
	pending map[string]revocation.Entry // to create, by token id
	wake    chan struct{}
}

// RevocationsConfig configures NewRevocations.
type RevocationsConfig struct {
	// Local holds every revocation this sidecar knows, its own and learned,
	// and is the outbox of those not yet created (see the package doc).
	Local *revocation.File
	// API creates TokenRevocations in Namespace.
	API        Creator
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
		path:    kube.CollectionPath(jack.Group, jack.Version, cfg.Namespace, jack.ResourceTokenRevocations),
		pending: map[string]revocation.Entry{},
		wake:    make(chan struct{}, 1),
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
// TokenRevocation is created, which Run does next.
func (r *Revocations) Revoke(e revocation.Entry) error {
	if err := r.local.Revoke(e); err != nil {
		return err
	}
	r.enqueue(e)
	return nil
}

// Revoked implements revocation.Store.
func (r *Revocations) Revoked(jti string, now time.Time) bool { return r.local.Revoked(jti, now) }

// Pending is the number of revocations not yet created in the API server.
func (r *Revocations) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Replace implements kube.Handler: every listed revocation is added to the
// local ones, and the local ones the API server lacks (logouts while it was
// unreachable, or before a restart) are created.
func (r *Revocations) Replace(items []TokenRevocation) {
	listed := make(map[string]bool, len(items))
	entries := make([]revocation.Entry, 0, len(items))
	for _, it := range items {
		listed[it.Spec.TokenID] = true
		entries = append(entries, entryOf(it))
	}
	r.learn(entries)
	for _, e := range r.local.Live(r.now()) {
		if !listed[e.ID] {
			r.enqueue(e)
		}
	}
}

// Upsert implements kube.Handler: another replica's logout (or this one's,
// coming back).
func (r *Revocations) Upsert(it TokenRevocation) {
	r.learn([]revocation.Entry{entryOf(it)})
	r.mu.Lock()
	delete(r.pending, it.Spec.TokenID)
	r.mu.Unlock()
}

// Delete implements kube.Handler. The operator deletes a revocation once its
// token has expired; the local copy expires by itself.
func (r *Revocations) Delete(TokenRevocation) {}

func entryOf(it TokenRevocation) revocation.Entry {
	return revocation.Entry{ID: it.Spec.TokenID, Subject: it.Spec.UserID, Expires: it.Spec.ExpiresAt}
}

func (r *Revocations) learn(entries []revocation.Entry) {
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

// Run creates pending revocations until ctx ends, retrying failures with a
// backoff (from 200 ms to 10 s) so a logout made while the API server is
// unreachable, or before the operator granted access, reaches it later.
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
				r.log.Error(err, "sharing a logout with the other replicas; retrying", "pending", r.Pending())
			}
			delay = min(max(2*delay, 200*time.Millisecond), 10*time.Second)
			continue
		}
		if delay > 0 {
			r.log.Info("logouts shared with the other replicas again")
		}
		delay = 0
	}
}

// flush creates every pending revocation, stopping at the first failure.
func (r *Revocations) flush(ctx context.Context) error {
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
			err := r.api.Create(ctx, r.path, r.object(e))
			if err != nil && !kube.IsAlreadyExists(err) {
				return err
			}
		}
		r.mu.Lock()
		if p, ok := r.pending[e.ID]; ok && p == e {
			delete(r.pending, e.ID)
		}
		r.mu.Unlock()
	}
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
