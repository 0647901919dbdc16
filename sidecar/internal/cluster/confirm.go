package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/session"
)

// A logout answers success only once every replica refuses the token. The
// operator asks every ready sidecar of the SigningKey whether it refuses
// what a TokenRevocation names (Held, which /confirm answers) and records
// in the revocation's status the generation they all confirmed; the sidecar
// that recorded the logout waits for that status (Confirm).

// seenRevocation is what the watch last said of one TokenRevocation (or a
// write's answer, when it came first).
type seenRevocation struct {
	generation      int64
	confirmed       int64 // status.confirmedGeneration
	resourceVersion string
	// tokenID, or sessionID and record, are what it names.
	tokenID   string
	sessionID string
	record    session.Record
	expires   time.Time
}

func seenOf(it TokenRevocation) seenRevocation {
	return seenRevocation{
		generation: it.Metadata.Generation, confirmed: it.Status.ConfirmedGeneration, resourceVersion: it.Metadata.ResourceVersion,
		tokenID: it.Spec.TokenID, sessionID: it.Spec.SessionID, record: it.Spec.record(), expires: it.Spec.ExpiresAt,
	}
}

// revocationHeld decides whether this sidecar acts on a TokenRevocation as
// of generation: it has seen that generation or a later one, and acts on
// what it names — acted says the local store refuses the token, or holds
// everything of the session's record (session.Record.Holds) — or every
// token it covers has expired past the verifiers' leeway, which every
// replica refuses anyway. Being listed is not enough: a revocation learned
// past the store's bound is dropped (see revocation.ErrFull), and then the
// sidecar does not act on it although it has seen the object.
func revocationHeld(s seenRevocation, generation int64, acted bool, now time.Time) bool {
	switch {
	case s.generation < generation:
		return false
	case acted:
		return true
	default:
		return !now.Before(s.expires.Add(jack.TokenLeeway))
	}
}

// Held reports whether this sidecar acts on what the TokenRevocation name
// says, as of generation or a later one: what /confirm answers.
func (r *Revocations) Held(name string, generation int64) bool {
	r.mu.Lock()
	s, ok := r.seen[name]
	r.mu.Unlock()
	if !ok {
		return false
	}
	now := r.now()
	acted := false
	switch {
	case s.tokenID != "":
		acted = r.local.Revoked(s.tokenID, now)
	case s.sessionID != "":
		acted = r.local.Session(s.sessionID, now).Holds(s.record)
	}
	return revocationHeld(s, generation, acted, now)
}

// Changed returns a channel closed at the next change the watch delivers.
// Take it before asking Held, so a change in between is not missed.
func (r *Revocations) Changed() <-chan struct{} { return r.changes.Next() }

// Confirm makes sure the TokenRevocation of e, which Revoke recorded, exists
// in the API server — created, or found already there, as when the same
// token is logged out again — and waits until the operator's status says
// every ready sidecar of the SigningKey refuses it: confirmedGeneration at
// least the generation the object had then. It returns an error when ctx
// ends first or the API server cannot be reached; the revocation stays
// recorded here and in the outbox either way, and a later Confirm of the
// same e waits for the same object.
func (r *Revocations) Confirm(ctx context.Context, e revocation.Entry) error {
	name := jack.RevocationName(e.ID)
	stored, err := r.create(ctx, e)
	if err == nil && stored == nil {
		stored = &TokenRevocation{}
		err = r.api.Get(ctx, r.path+"/"+name, stored)
	}
	if err != nil {
		return fmt.Errorf("making sure TokenRevocation %s exists: %w", name, err)
	}
	r.sent(e)
	return r.confirmed(ctx, name, stored.Metadata.Generation, stored.Status.ConfirmedGeneration)
}

// ConfirmSession makes sure the session's TokenRevocation holds what
// RecordSession recorded of it here — written, or found there already, as
// when the same session is logged out again — and waits until the
// operator's status says every ready sidecar of the SigningKey acts on
// that generation, as Confirm does for a token.
func (r *Revocations) ConfirmSession(ctx context.Context, e revocation.SessionEntry) error {
	name := jack.SessionRevocationName(e.ID)
	stored, exists, err := r.writeSession(ctx, e.ID, e.Subject)
	if err != nil {
		return fmt.Errorf("making sure TokenRevocation %s holds the session's end: %w", name, err)
	}
	r.sentSession(e.ID, stored.record)
	if !exists {
		// Every token of the session has expired: nothing to confirm.
		return nil
	}
	return r.confirmed(ctx, name, stored.generation, stored.confirmed)
}

// confirmed waits until the status of the TokenRevocation name says every
// ready sidecar acts on generation, which a write stored (with confirmed
// already, as it answered).
func (r *Revocations) confirmed(ctx context.Context, name string, generation, confirmed int64) error {
	// Every object the API server stores has a generation of at least 1; a
	// 0 would be confirmed before anyone asked.
	generation = max(generation, 1)
	if confirmed >= generation {
		return nil
	}
	for {
		changed := r.changes.Next()
		r.mu.Lock()
		s, ok := r.seen[name]
		r.mu.Unlock()
		if ok && s.confirmed >= generation {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for every replica to confirm TokenRevocation %s (generation %d): %w", name, generation, ctx.Err())
		}
	}
}
