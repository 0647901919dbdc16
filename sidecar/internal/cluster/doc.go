// Package cluster is what the sidecar learns from, and tells, the API
// server, so that every replica of a SigningKey agrees within a second:
//
//   - Users watches the namespace's JackUsers: a disabled user, a changed
//     role, ended sessions and a changed password are known at once, where
//     the mounted user directory takes the kubelet a minute or more. It is
//     what the app hands the server as its LiveUsers.
//   - Revocations is the server's revocation store: a logout is recorded in
//     the local file at once (the token is refused here before the answer
//     goes out) and then written as a TokenRevocation, which every other
//     replica watching the SigningKey's revocations adds to its own. A
//     session has one TokenRevocation, which every replica that refreshes
//     it, logs it out or sees a replaced token of it reused writes: the
//     merge (session.Merge) of what the API server holds and what it
//     recorded, as a merge patch under the resourceVersion it read, reread
//     and merged again on a conflict, so that it only grows stricter and no
//     replica's write undoes another's. A token without a session has one
//     of its own, by its id, created once. Revocations is also the
//     server's LogoutConfirmer: the logout answers once the operator has
//     written in the revocation's status that every ready sidecar acts on
//     its generation, which it learns by asking each one's /confirm —
//     answered from Revocations.Held and Users.SessionsEnded, woken by the
//     watches' changes rather than polled.
//   - Signing watches the sidecar's own SigningKey, by name: the key its
//     status announces as active signs at every replica at once after a
//     promotion, and a key its spec revokes is refused at once, where the
//     mounted key ring takes the kubelet up to a minute and a half. It is
//     what the app hands the server as its Signing.
//
// All three keep their last state when the API server is unreachable, and
// catch up when it returns: a logout, refresh or reuse made meanwhile stays
// in the local file, which is the outbox — after every list, what the
// revocations and sessions held locally have that the API server lacks is
// written again.
//
// The sidecar's access is the Role the operator keeps in the namespace
// (jack.SidecarRoleName): read JackUsers and SigningKeys, read, create and
// patch TokenRevocations.
//
// Used by the sidecar's app, which hands them to the server.
package cluster
