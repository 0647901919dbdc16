// Package revocation remembers the tokens that were logged out, by their
// id ("jti"), until they would have expired anyway. The sidecar refuses a
// token whose id is here. The File store keeps them in memory and in an
// append-only file, so a restart keeps every logout; the cluster-wide store
// that shares them between replicas implements the same Store interface.
//
// It also remembers sessions, by their id ("sid"): the session.Record of
// each session that was refreshed or ended — its newest generation, its
// grace, whether it ended — until its last token would have expired. A
// session's record changes with every refresh; each change is merged into
// what is held (session.Merge: it only grows stricter) and appended as a
// line of its own, so the file written before a logout or a refresh
// answers is the record of this sidecar's own changes that the cluster
// store has still to share (its outbox), across a restart too. Lines of
// a session carry "sid" where a token's carry "jti": a file written before
// sessions existed loads as it did, and a sidecar from before them skips a
// session's line as it skips a torn one.
//
// # Bounds
//
// A client that logs in, refreshes and logs out in a loop adds one
// session (or, for a token from before sessions, one revocation) per
// round, each held for a token's lifetime (24 h by default), so the store
// is bounded twice over:
//
//   - Entries. A File holds at most Options.MaxEntries revocations and
//     sessions together, and at most Options.MaxPerSubject of one user, so
//     one account's flood fills its own share and not everyone's. A logout,
//     or a session's first refresh, past either bound is refused with
//     ErrFull (a *FullError): the caller must answer that it failed and the
//     token is still valid — a logout is never accepted and then dropped,
//     and an entry is never evicted to make room. A session held already
//     changes in place and takes no more room. Revocations and sessions
//     learned from other replicas (RevokeAll, LearnSessions) were already
//     answered there, so they are kept past MaxEntries, up to twice it.
//   - The file. Every append that leaves the file with more than
//     max(2 × entries held, 1,000) lines rewrites it with only the live
//     entries (write a temporary file, fsync, rename, fsync the directory),
//     so its size stays proportional to what is held; revocations are
//     dropped as their tokens expire, on every write rather than on a
//     timer. The rewrites cost, in all, no more than the writes that made
//     lines stale.
//
// A revocation is kept jack.TokenLeeway past its token's expiry, and a
// session past its last token's, since the verifier accepts a token that
// long past its exp.
//
// Used by the sidecar's app, server and cluster.
package revocation
