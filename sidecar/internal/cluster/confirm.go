package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
)

// A logout answers success only once every replica refuses the token. The
// operator asks every ready sidecar of the SigningKey whether it refuses
// what a TokenRevocation names (Held, which /confirm answers) and records
// in the revocation's status the generation they all confirmed; the sidecar
// that recorded the logout waits for that status (Confirm).

// seenRevocation is what the watch last said of one TokenRevocation.
type seenRevocation struct {
	generation int64
	confirmed  int64 // status.confirmedGeneration
	tokenID    string
	expires    time.Time
}

func seenOf(it TokenRevocation) seenRevocation {
	return seenRevocation{
		generation: it.Metadata.Generation, confirmed: it.Status.ConfirmedGeneration,
		tokenID: it.Spec.TokenID, expires: it.Spec.ExpiresAt,
	}
}

// revocationHeld decides whether this sidecar acts on a TokenRevocation as
// of generation: it has seen that generation or a later one, and refuses
// the token it names — refused says the local store does — or the token
// has expired past the verifiers' leeway, which every replica refuses
// anyway. Being listed is not enough: a revocation learned past the store's
// bound is dropped (see revocation.ErrFull), and then the sidecar does not
// refuse the token although it has seen the object. A revocation of a
// session (no tokenID) is never held: this sidecar does not act on
// sessions yet, and must not tell the operator it does.
func revocationHeld(s seenRevocation, generation int64, refused bool, now time.Time) bool {
	switch {
	case s.generation < generation || s.tokenID == "":
		return false
	case refused:
		return true
	default:
		return !now.Before(s.expires.Add(jack.TokenLeeway))
	}
}

// Held reports whether this sidecar refuses what the TokenRevocation name
// covers, as of generation or a later one: what /confirm answers.
func (r *Revocations) Held(name string, generation int64) bool {
	r.mu.Lock()
	s, ok := r.seen[name]
	r.mu.Unlock()
	if !ok {
		return false
	}
	now := r.now()
	return revocationHeld(s, generation, s.tokenID != "" && r.local.Revoked(s.tokenID, now), now)
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
	// Every object the API server stores has a generation of at least 1; a
	// 0 would be confirmed before anyone asked.
	generation := max(stored.Metadata.Generation, 1)
	if stored.Status.ConfirmedGeneration >= generation {
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
