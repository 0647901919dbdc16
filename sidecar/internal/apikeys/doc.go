// Package apikeys is the sidecar's view of its namespace's API keys
// (JackAPIKey): an immutable index from the SHA-256 digest of a key's value
// to the key — its status.id, role, routes, disabled, expiry, rate limit —
// and the pure decision whether a presented value is accepted now.
//
// The index is rebuilt whole by the JackAPIKey watch (package cluster) on
// every change and swapped in with one atomic store, so a request reads it
// without a lock, and a lookup ([32]byte map key) allocates nothing. What
// changes per request — the hour of the last use, the rate limit's bucket,
// the metrics' children — lives in a Usage per status.id, which the view
// carries from one index to the next, so that a rebuild resets none of it.
//
// Used by the sidecar's cluster (which builds it), server (which decides
// with it) and app (which reports the last uses on /state).
package apikeys
