package jack

// API keys (JackAPIKey): what the operator, the sidecar and Jack share about
// them. The key format itself is internal/apikey.
const (
	// ResourceJackAPIKeys is what sidecars watch to learn at once of a new,
	// rotated, disabled or deleted API key: each JackAPIKey's status carries
	// the SHA-256 digests of its valid values (never the values).
	ResourceJackAPIKeys = "jackapikeys"
	// SecretKeyAPIKey holds a JackAPIKey's current value in the Secret named
	// in its status.secretName: what the consumer mounts or reads.
	SecretKeyAPIKey = "apikey"
	// ComponentAPIKey (a LabelComponent value) marks a JackAPIKey's Secret.
	ComponentAPIKey = "api-key"
	// APIKeySecretSuffix makes a JackAPIKey's Secret name: <name>-apikey.
	APIKeySecretSuffix = "-apikey"
)

// Identity headers for API keys, in the X-Jack-User- family so that a
// client's own copies are removed like every other identity header's.
const (
	// HeaderUserKind says what kind of caller the sidecar let through:
	// UserKindUser (a JWT of a JackUser) or UserKindAPIKey.
	HeaderUserKind = "X-Jack-User-Kind"
	// HeaderAPIKeyID is the JackAPIKey's status.id, for an API key.
	HeaderAPIKeyID = "X-Jack-User-Api-Key-Id"

	UserKindUser   = "user"
	UserKindAPIKey = "api-key"
)
