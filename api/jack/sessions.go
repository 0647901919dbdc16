package jack

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
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
// read JackUsers and SigningKeys and read, create and patch TokenRevocations there,
// and nothing else (no Secret).
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

// SessionRevocationName is the name of the TokenRevocation of the session
// with this id ("sid"): one object a session, whichever replica writes it.
func SessionRevocationName(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return "sid-" + hex.EncodeToString(sum[:20])
}

// Session claims, beside the registered ones. A login starts a session;
// every token refreshed from it carries the same ClaimSessionID and
// ClaimAuthTime, and a ClaimSessionGeneration one higher than the token it
// was refreshed from.
const (
	// ClaimSessionID is the session's id, 128 random bits.
	ClaimSessionID = "sid"
	// ClaimAuthTime is when the session's login happened (OpenID Connect's
	// auth_time); the session ends SessionLifetime after it.
	ClaimAuthTime = "auth_time"
	// ClaimSessionGeneration is how many refreshes led to the token: 0 for
	// the login's.
	ClaimSessionGeneration = "sgen"
)

// DefaultSessionLifetime is a SigningKey's sessionLifetime when it does not
// set one, and a ring's when it was written before sessions existed.
const DefaultSessionLifetime = 720 * time.Hour

// RefreshGrace is how long the token a refresh replaced keeps working, so
// that requests already sent with it finish. Presented after that, it ends
// the session (refresh-token reuse detection, RFC 9700 §4.14).
const RefreshGrace = 10 * time.Second

// Why a session ended (TokenRevocation spec.endedBecause).
const (
	SessionEndedByLogout     = "Logout"
	SessionEndedByTokenReuse = "TokenReuse"
)
