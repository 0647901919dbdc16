// Package keys is the plugin's `key` verbs on SigningKeys: Status prints a
// SigningKey's ring as a table with its readiness, propagation and next
// rotation; Rotate asks for a rotation with a fresh auth.jack.io/rotate
// value and can wait until the new key signs on every sidecar; Revoke lists
// a key in spec.revokedKeyIDs after saying who is logged out by it.
//
// They read and write only what a user with kubectl could: the SigningKey
// and its status (never the key ring Secret), and print keys by id alone.
//
// Used by cmd/kubectl-jack.
package keys
