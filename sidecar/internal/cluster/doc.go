// Package cluster is what the sidecar learns from, and tells, the API
// server, so that every replica of a SigningKey agrees within a second:
//
//   - Users watches the namespace's JackUsers: a disabled user, a changed
//     role, ended sessions and a changed password are known at once, where
//     the mounted user directory takes the kubelet a minute or more. It is
//     what the app hands the server as its LiveUsers.
//   - Revocations is the server's revocation store: a logout is recorded in
//     the local file at once (the token is refused here before the answer
//     goes out) and then created as a TokenRevocation, which every other
//     replica watching the SigningKey's revocations adds to its own. It is
//     also the server's LogoutConfirmer: the logout answers once the
//     operator has written in the revocation's status that every ready
//     sidecar refuses the token, which it learns by asking each one's
//     /confirm — answered from Revocations.Held and Users.SessionsEnded,
//     woken by the watches' changes rather than polled.
//   - Signing watches the sidecar's own SigningKey, by name: the key its
//     status announces as active signs at every replica at once after a
//     promotion, and a key its spec revokes is refused at once, where the
//     mounted key ring takes the kubelet up to a minute and a half. It is
//     what the app hands the server as its Signing.
//
// All three keep their last state when the API server is unreachable, and
// catch up when it returns: a logout made meanwhile stays in the local file,
// which is the outbox — after every list, the revocations held locally that
// the API server lacks are created again.
//
// The sidecar's access is the Role the operator keeps in the namespace
// (jack.SidecarRoleName): read JackUsers and SigningKeys, read and create
// TokenRevocations.
//
// Used by the sidecar's app, which hands them to the server.
package cluster
