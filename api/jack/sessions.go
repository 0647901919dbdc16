package jack

import (
	"crypto/sha256"
	"encoding/hex"
)

// The API group and version of the operator's kinds, and the resources the
// sidecar reads through the API server, for clients that do not link
// Kubernetes' libraries.
const (
	Group   = "auth.jack.io"
	Version = "v1alpha1"

	// ResourceJackUsers is what sidecars watch to learn at once that a user
	// was disabled, changed role or had their sessions ended.
	ResourceJackUsers = "jackusers"
	// ResourceTokenRevocations is what sidecars create on a logout and
	// watch to refuse tokens logged out at another replica.
	ResourceTokenRevocations = "tokenrevocations"
	// ResourceSigningKeys is what sidecars watch, their own SigningKey
	// only, to sign with the key its status announces as active within a
	// second of the promotion, and to refuse a revoked key at once.
	ResourceSigningKeys = "signingkeys"
)

// SidecarRoleName is the Role, and its RoleBinding, the operator keeps in
// every namespace with a SigningKey: it lets the pods the webhook injected
// read JackUsers and read and create TokenRevocations there, and nothing
// else (no Secret).
const SidecarRoleName = "jack-auth-sidecar"

// ComponentSidecarAccess marks the sidecars' Role and RoleBinding.
const ComponentSidecarAccess = "sidecar-access"

// RevocationName is the name of the TokenRevocation for the token with this
// id ("jti"). Deriving it from the id makes a logout idempotent — the same
// token logged out twice, or at two replicas, is one object — and keeps the
// id, which any characters may make up, out of the name.
func RevocationName(tokenID string) string {
	sum := sha256.Sum256([]byte(tokenID))
	return "jti-" + hex.EncodeToString(sum[:20])
}
