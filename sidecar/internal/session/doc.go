// Package session decides what a session's tokens may do: whether a token
// is still good, what a refresh signs and records, and what a logout
// records. It is the sessions contract of DESIGN.md as pure functions —
// no I/O, no clock of its own, no Kubernetes types — so that every rule has
// a row in a table test.
//
// A login starts a session (token.Sign with the zero token.Session): its
// token carries a new sid, auth_time (when the login happened) and
// generation (sgen) 0. A refresh signs a token of the same session, one
// generation up, and supersedes the token it was given: that one keeps
// working for jack.RefreshGrace, so that requests already sent with it
// finish, and presented after that it is taken for a stolen copy — the
// session ends (refresh-token reuse detection, RFC 9700 §4.14). A session
// lasts token.SessionLifetime after its login, however often it is
// refreshed. A logout ends the session: every token of it, at once.
//
// What every sidecar must know of a session is one Record, the spec of its
// TokenRevocation (jack.SessionRevocationName of its id): whether it ended
// and why, its newest generation, until when the one before still works,
// and when its last token expires. A session never refreshed nor ended
// has no TokenRevocation; the zero Record stands for it. The sidecar that
// refreshes or logs out writes the Record its call returns; the others
// learn it by watching, a second or so later.
//
// The rules, for a token of generation g and a Record of generation n:
//
//   - an ended session refuses every token;
//   - g >= n is accepted: the newest token, or one newer than the Record
//     this sidecar has seen so far (its watch lags the refresh that made
//     the token);
//   - g == n-1 is accepted before GraceUntil, and is reuse from GraceUntil
//     on;
//   - g < n-1 is reuse: a token two refreshes old was refreshed past
//     already, and its grace is long over.
//
// Refreshing a token signs generation g+1, whichever of the accepted cases
// it is. When g+1 is newer than the Record, it becomes the Record's
// generation and its grace starts. When it is not — the token was refreshed
// already, and is refreshed again within its grace, as a client does that
// sends two refreshes at once — the refresh answers with another token of
// the newest generation and leaves the grace as it was, so that refreshing a
// superseded token again and again never keeps it alive.
//
// Tokens issued before sessions existed have no sid. This package accepts
// them (a logout revokes each by its jti, as before), and a refresh turns
// one into a session whose login is the token's iat, so that it cannot last
// longer than a session would have.
//
// Used by the sidecar's server (sidecar/internal/server), which decides
// with it, and for its Record by the stores that keep and share what it
// decided: the local file (sidecar/internal/revocation) and the session's
// TokenRevocation (sidecar/internal/cluster), both merging with Merge.
package session
