package jack

import "time"

// Algorithm is the JWS algorithm a key signs with. The algorithm belongs to
// the key: a verifier never takes it from the token.
// +kubebuilder:validation:Enum=HS256;HS384;HS512;RS256;ES256;EdDSA
type Algorithm string

const (
	// AlgorithmHS256 is HMAC with SHA-256, Jack's historical default.
	AlgorithmHS256 Algorithm = "HS256"
	// AlgorithmHS384 is HMAC with SHA-384.
	AlgorithmHS384 Algorithm = "HS384"
	// AlgorithmHS512 is HMAC with SHA-512.
	AlgorithmHS512 Algorithm = "HS512"
	// AlgorithmRS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RSA 2048 bits or more).
	AlgorithmRS256 Algorithm = "RS256"
	// AlgorithmES256 is ECDSA on P-256 with SHA-256.
	AlgorithmES256 Algorithm = "ES256"
	// AlgorithmEdDSA is Ed25519.
	AlgorithmEdDSA Algorithm = "EdDSA"
)

// Symmetric reports whether keys of this algorithm are shared secrets, which
// must never be published.
func (a Algorithm) Symmetric() bool {
	return a == AlgorithmHS256 || a == AlgorithmHS384 || a == AlgorithmHS512
}

// KeyState is where a key is in its life. A key is Published (verifies only)
// until every verifier has it, then Active (the one key that signs), then
// Retired (verifies only) until every token it signed has expired, then
// removed. A Revoked key verifies nothing.
// +kubebuilder:validation:Enum=Published;Active;Retired;Revoked
type KeyState string

const (
	// KeyPublished keys verify tokens but do not sign yet.
	KeyPublished KeyState = "Published"
	// KeyActive is the one key that signs new tokens.
	KeyActive KeyState = "Active"
	// KeyRetired keys verify the tokens they signed until those expire.
	KeyRetired KeyState = "Retired"
	// KeyRevoked keys were listed in spec.revokedKeyIDs and verify nothing.
	KeyRevoked KeyState = "Revoked"
)

// The events a key ring's rotation reports on its SigningKey: the reasons
// the operator's rotation policy emits (api/v1alpha1 names them for the
// SigningKey's other events).
const (
	// EventKeyPublished: a new key entered the ring, verify-only.
	EventKeyPublished = "KeyPublished"
	// EventRotated: a new key became active.
	EventRotated = "Rotated"
	// EventKeyRetired: a key stopped signing; it verifies until its tokens expire.
	EventKeyRetired = "KeyRetired"
	// EventKeyRemoved: a retired key left the ring after its last token expired.
	EventKeyRemoved = "KeyRemoved"
	// EventKeyRevoked: a key listed in spec.revokedKeyIDs was dropped at once.
	EventKeyRevoked = "KeyRevoked"
	// EventPropagationTimedOut: a published key was promoted although some
	// sidecars had not loaded it when rotation.propagationTimeout ended.
	EventPropagationTimedOut = "PropagationTimedOut"
)

// TokenLeeway is the clock skew between the operator, the sidecars and
// their clients that a token's exp, nbf and iat are checked with: the
// sidecar accepts a token this long past its expiry, so a logout is kept
// this long past it too.
const TokenLeeway = 30 * time.Second
