// Package revocation remembers the tokens that were logged out, by their
// id ("jti"), until they would have expired anyway. The sidecar refuses a
// token whose id is here. The File store keeps them in memory and in an
// append-only file, so a restart keeps every logout; the cluster-wide store
// that shares them between replicas implements the same Store interface.
//
// # Bounds
//
// A client that refreshes and logs out in a loop adds one revocation per
// pair, each held for a token's lifetime (24 h by default), so the store is
// bounded twice over:
//
//   - Entries. A File holds at most Options.MaxEntries revocations, and at
//     most Options.MaxPerSubject of one user, so one account's flood fills
//     its own share and not everyone's. A logout past either bound is
//     refused with ErrFull (a *FullError): the caller must answer that the
//     logout failed and the token is still valid — a logout is never
//     accepted and then dropped, and an entry is never evicted to make room.
//     Revocations learned from other replicas (RevokeAll) were already
//     answered there, so they are kept past MaxEntries, up to twice it.
//   - The file. Every append that leaves the file with more than
//     max(2 × entries held, 1,000) lines rewrites it with only the live
//     entries (write a temporary file, fsync, rename, fsync the directory),
//     so its size stays proportional to what is held; revocations are
//     dropped as their tokens expire, on every write rather than on a
//     timer. The rewrites cost, in all, no more than the writes that made
//     lines stale.
//
// A revocation is kept jack.TokenLeeway past its token's expiry, since
// the verifier accepts a token that long past its exp.
//
// Used by the sidecar's app, server and cluster.
package revocation
