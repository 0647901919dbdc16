package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/session"
)

// A session has one TokenRevocation (jack.SessionRevocationName of its id),
// which every sidecar that refreshes it, logs it out or finds a reused token
// of it writes. Each writes the session.Merge of what the API server holds
// and what it recorded, as a merge patch under the resourceVersion it read:
// when another sidecar wrote in between, the patch is refused (409), and it
// rereads, merges and writes again. The spec therefore only grows stricter,
// as the API server's rules require, and no write is lost to another.

// maxSessionWrites bounds the attempts of one write that keeps meeting other
// sidecars' writes of the same session; the outbox tries again later.
const maxSessionWrites = 8

// Session implements revocation.Store: the local record, which holds what
// the watch brought and what this sidecar recorded.
func (r *Revocations) Session(sid string, now time.Time) session.Record {
	return r.local.Session(sid, now)
}

// RecordSession implements revocation.Store: the session's record is held
// here once it returns (durably, in the local file), and written to its
// TokenRevocation next, by Run (or by ConfirmSession, when the caller
// waits for every replica).
func (r *Revocations) RecordSession(e revocation.SessionEntry) (session.Record, bool, error) {
	rec, changed, err := r.local.RecordSession(e)
	if err == nil && changed {
		r.enqueueSession(e.ID, e.Subject)
	}
	return rec, changed, err
}

func (r *Revocations) enqueueSession(sid, subject string) {
	r.mu.Lock()
	r.pendingSessions[sid] = subject
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// sentSession takes the session off the outbox once the API server holds
// stored, if that has everything the local record has. The check and the
// removal happen under mu, and RecordSession enqueues after the local
// record changed, so a change made meanwhile is never taken off with it.
func (r *Revocations) sentSession(sid string, stored session.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.pendingSessions[sid]; ok && stored.Holds(r.local.Session(sid, r.now())) {
		delete(r.pendingSessions, sid)
	}
}

func (r *Revocations) learnSessions(entries []revocation.SessionEntry) {
	if len(entries) == 0 {
		return
	}
	if err := r.local.LearnSessions(entries); err != nil {
		// As for revocations (learn): held in memory on a write error,
		// dropped past twice the bound; the next list brings them back.
		r.log.Error(err, "recording sessions from the API server in the local file")
	}
}

// flushSessions writes every session pending when it starts. One that
// changes meanwhile is pending again, and its RecordSession has woken Run
// for another round.
func (r *Revocations) flushSessions(ctx context.Context) error {
	r.mu.Lock()
	todo := make(map[string]string, len(r.pendingSessions))
	for sid, subject := range r.pendingSessions {
		todo[sid] = subject
	}
	r.mu.Unlock()
	for sid, subject := range todo {
		stored, _, err := r.writeSession(ctx, sid, subject)
		if err != nil {
			return err
		}
		r.sentSession(sid, stored.record)
	}
	return nil
}

// writeSession makes the session's TokenRevocation hold the local record,
// and returns the object as the API server then holds it; exists is false
// when there is none and nothing to write (the record's tokens have all
// expired). One write of a session is in flight at a time: a caller that
// finds one waits for it, then writes only what it did not (often
// nothing: the outbox and a waiting logout both write the logout's record
// the moment it is made).
func (r *Revocations) writeSession(ctx context.Context, sid, subject string) (stored seenRevocation, exists bool, err error) {
	for {
		r.mu.Lock()
		busy, ok := r.writing[sid]
		if !ok {
			r.writing[sid] = make(chan struct{})
		}
		r.mu.Unlock()
		if !ok {
			break
		}
		select {
		case <-busy:
		case <-ctx.Done():
			return seenRevocation{}, false, ctx.Err()
		}
	}
	defer func() {
		r.mu.Lock()
		close(r.writing[sid])
		delete(r.writing, sid)
		r.mu.Unlock()
	}()

	name := jack.SessionRevocationName(sid)
	path := r.path + "/" + name
	// Read after the wait: it has whatever was recorded before this write.
	mine := r.local.Session(sid, r.now())
	r.mu.Lock()
	base, exists := r.seen[name]
	r.mu.Unlock()
	for range maxSessionWrites {
		switch {
		case exists && base.record.Holds(mine):
			return base, true, nil
		case !exists && mine.ExpiresAt.IsZero():
			return seenRevocation{}, false, nil
		}
		var obj TokenRevocation
		if exists {
			err = r.api.MergePatch(ctx, path, r.sessionPatch(base.resourceVersion, session.Merge(base.record, mine)), &obj)
		} else {
			obj = r.sessionObject(sid, subject, mine)
			err = r.api.Create(ctx, r.path, &obj)
		}
		switch {
		case err == nil:
			s := seenOf(obj)
			r.mu.Lock()
			r.see(name, s)
			r.mu.Unlock()
			// It may hold more than mine: another sidecar's refresh the
			// watch has not brought yet.
			r.learnSessions([]revocation.SessionEntry{sessionEntryOf(obj)})
			r.changes.Notify()
			return s, true, nil
		case kube.IsConflict(err) || kube.IsAlreadyExists(err) || exists && kube.IsNotFound(err):
			// Another sidecar wrote first, or the operator deleted it
			// (its tokens expired): reread, and merge onto what is there.
			var cur TokenRevocation
			switch gerr := r.api.Get(ctx, path, &cur); {
			case gerr == nil:
				base, exists = seenOf(cur), true
			case kube.IsNotFound(gerr):
				exists = false
			default:
				return seenRevocation{}, false, fmt.Errorf("rereading TokenRevocation %s: %w", name, gerr)
			}
		default:
			return seenRevocation{}, false, fmt.Errorf("writing TokenRevocation %s: %w", name, err)
		}
	}
	return seenRevocation{}, false, fmt.Errorf("writing TokenRevocation %s: %w", name, errKeptChanging)
}

var errKeptChanging = errors.New("other replicas kept changing it; trying again later")

// sessionPatch changes a session's spec to rec, the merge of what the
// version resourceVersion holds and this sidecar's record; the API server
// applies it to that version only.
func (r *Revocations) sessionPatch(resourceVersion string, rec session.Record) any {
	type spec struct {
		Ended        bool      `json:"ended,omitempty"`
		EndedBecause string    `json:"endedBecause,omitempty"`
		Generation   int64     `json:"generation,omitempty"`
		GraceUntil   time.Time `json:"graceUntil,omitzero"`
		ExpiresAt    time.Time `json:"expiresAt"`
	}
	type metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	}
	return struct {
		Metadata metadata `json:"metadata"`
		Spec     spec     `json:"spec"`
	}{metadata{resourceVersion}, spec{rec.Ended, rec.EndedBecause, rec.Generation, rec.GraceUntil.UTC(), rec.ExpiresAt.UTC()}}
}

func (r *Revocations) sessionObject(sid, subject string, rec session.Record) TokenRevocation {
	return TokenRevocation{
		APIVersion: jack.Group + "/" + jack.Version,
		Kind:       "TokenRevocation",
		Metadata: revocationMetadata{
			Name: jack.SessionRevocationName(sid), Namespace: r.namespace,
			Labels: map[string]string{jack.LabelSigningKey: r.signingKey},
		},
		Spec: revocationSpec{
			SigningKey: r.signingKey, SessionID: sid, UserID: subject,
			Ended: rec.Ended, EndedBecause: rec.EndedBecause, Generation: rec.Generation,
			GraceUntil: rec.GraceUntil.UTC(), ExpiresAt: rec.ExpiresAt.UTC(),
		},
	}
}

func sessionEntryOf(it TokenRevocation) revocation.SessionEntry {
	return revocation.SessionEntry{ID: it.Spec.SessionID, Subject: it.Spec.UserID, Record: it.Spec.record()}
}
