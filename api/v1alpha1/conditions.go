package v1alpha1

import "github.com/jack-io/jack-operator/api/jack"

// Condition types. Every kind in this group reports Ready; its reason says why
// when it is not True.
const (
	// ConditionReady is True when the object does what it asks for: a
	// JackUser can log in, a SigningKey has an active key in its Secret.
	ConditionReady = "Ready"
	// ConditionPropagated is True on a SigningKey when every ready sidecar
	// of it holds the keys that sign or are about to, and no rotation is
	// under way. On a JackUser it is True when every ready sidecar of the
	// namespace logs the user in with their current email and password
	// (status.propagatedPasswordVersion); for a disabled user, when every
	// one has their current entry, disabled. Its reasons are those of
	// TokenRevocation conditions: Confirmed, AwaitingSidecars,
	// SidecarsUnreachable. A JackUser that is not Ready for another reason
	// than being disabled has none.
	ConditionPropagated = "Propagated"
	// ConditionConfirmed is True on a TokenRevocation once every ready
	// sidecar of its SigningKey refuses the token.
	ConditionConfirmed = "Confirmed"
	// ConditionSessionsEnded is True on a JackUser once every ready sidecar
	// of the namespace refuses the tokens issued before status.sessionsValidAfter.
	ConditionSessionsEnded = "SessionsEnded"
)

// Reasons for TokenRevocation conditions, and for the JackUser conditions
// that sidecars confirm (SessionsEnded, Propagated).
const (
	// ReasonConfirmed: every ready sidecar refuses the token (or, on a
	// JackUser, acts on what the condition says).
	ReasonConfirmed = "Confirmed"
	// ReasonAwaitingSidecars: some sidecars have not confirmed yet; the
	// message names them. SidecarsUnreachable is used when they did not
	// answer at all.
	ReasonAwaitingSidecars = "AwaitingSidecars"
)

// Reasons for JackUser conditions. A reason doubles as the reason of the
// event that reports the same transition.
const (
	// ReasonUserReady: the user's password is hashed into the user directory
	// and they can log in.
	ReasonUserReady = "UserReady"
	// ReasonPasswordMissing: the referenced Secret or its key does not exist,
	// so the user cannot log in.
	ReasonPasswordMissing = "PasswordMissing"
	// ReasonPasswordTooWeak: the password is shorter than the policy minimum,
	// so the user cannot log in until it is changed.
	ReasonPasswordTooWeak = "PasswordTooWeak"
	// ReasonDuplicateEmail: another JackUser in the namespace has the same
	// email; only the older one can log in.
	ReasonDuplicateEmail = "DuplicateEmail"
	// ReasonUserDisabled: spec.disabled is true.
	ReasonUserDisabled = "UserDisabled"
	// ReasonDirectoryFull: the namespace's user directory Secret cannot hold
	// another user.
	ReasonDirectoryFull = "DirectoryFull"
	// ReasonDuplicateID: another JackUser in the namespace has the same id;
	// only the older one can log in.
	ReasonDuplicateID = "DuplicateID"
	// ReasonDirectoryConflict: a Secret with the user directory's name exists
	// and is not the operator's; it will not be overwritten.
	ReasonDirectoryConflict = "DirectoryConflict"
	// ReasonSessionsEnded (event): the user's sessions were ended because
	// their password changed or they were disabled.
	ReasonSessionsEnded = "SessionsEnded"
)

// Reasons for SigningKey conditions and events.
const (
	// ReasonKeyActive: a key is active and the Secret holds the ring.
	ReasonKeyActive = "KeyActive"
	// ReasonSecretConflict: a Secret with the chosen name exists and is not
	// owned by this SigningKey; the operator will not overwrite it.
	ReasonSecretConflict = "SecretConflict"
	// ReasonLegacySecretMissing: spec.legacySecretRef names a Secret or key
	// that does not exist.
	ReasonLegacySecretMissing = "LegacySecretMissing"
	// ReasonKeyGenerationFailed: a new key could not be generated or stored.
	ReasonKeyGenerationFailed = "KeyGenerationFailed"

	// ReasonKeyPublished: a new key entered the ring, verify-only.
	ReasonKeyPublished = jack.EventKeyPublished
	// ReasonRotated: a new key became active.
	ReasonRotated = jack.EventRotated
	// ReasonKeyRetired: a key stopped signing; it verifies until its tokens expire.
	ReasonKeyRetired = jack.EventKeyRetired
	// ReasonKeyRemoved: a retired key left the ring after its last token expired.
	ReasonKeyRemoved = jack.EventKeyRemoved
	// ReasonKeyRevoked: a key listed in spec.revokedKeyIDs was dropped at once.
	ReasonKeyRevoked = jack.EventKeyRevoked
	// ReasonSecretRepaired: the key ring Secret had been edited or deleted and
	// was restored from the operator's backup of the ring.
	ReasonSecretRepaired = "SecretRepaired"
	// ReasonKeyRingLost: neither the key ring Secret nor its backup held a
	// readable ring, so a new ring was started and earlier tokens are refused.
	ReasonKeyRingLost = "KeyRingLost"

	// ReasonPropagated: every ready sidecar holds the ring's active key (and
	// signs with it), and no key waits to be promoted.
	ReasonPropagated = "Propagated"
	// ReasonPropagating: a published key waits for prepublish to pass, or
	// for sidecars to load it, before it signs.
	ReasonPropagating = "Propagating"
	// ReasonSidecarsLagging: sidecars past prepublish still lack a key that
	// signs or is about to; they are named, and promotion waits for them up
	// to rotation.propagationTimeout. Also the event that names them.
	ReasonSidecarsLagging = "SidecarsLagging"
	// ReasonSidecarsUnreachable: the operator could not read what some
	// sidecars hold (their ops port did not answer); they count as lacking
	// the key.
	ReasonSidecarsUnreachable = "SidecarsUnreachable"
	// ReasonPropagationTimedOut: a key was promoted at the end of
	// rotation.propagationTimeout although some sidecars lacked it.
	ReasonPropagationTimedOut = jack.EventPropagationTimedOut
)

// Reasons for JackAPIKey conditions and events. A reason doubles as the
// reason of the event that reports the same transition.
const (
	// ReasonAPIKeyReady: the key's Secret holds its current value, and the
	// key is neither disabled nor expired.
	ReasonAPIKeyReady = "KeyReady"
	// ReasonAPIKeyDisabled: spec.disabled is true; the values are kept.
	ReasonAPIKeyDisabled = "KeyDisabled"
	// ReasonAPIKeyExpired: spec.expires has passed; the values are kept.
	ReasonAPIKeyExpired = "KeyExpired"
	// ReasonSecretMissing: the key's Secret, or the value in it, is missing
	// or not a key; the operator writes a new value.
	ReasonSecretMissing = "SecretMissing"
	// ReasonSecretWriteFailed: the operator could not write the key's Secret.
	ReasonSecretWriteFailed = "SecretWriteFailed"

	// ReasonKeyGenerated (event): the key's first value was written to its Secret.
	ReasonKeyGenerated = "KeyGenerated"
	// ReasonKeyRotated (event): a rotation (auth.jack.io/rotate) wrote a
	// new value; the one it replaced works until the overlap ends.
	ReasonKeyRotated = "KeyRotated"
	// ReasonKeyReplaced (event): the Secret had lost the current value
	// (deleted, emptied, or edited by hand) and holds a new one; the one it
	// replaced works until the overlap ends.
	ReasonKeyReplaced = "KeyReplaced"
	// ReasonPreviousValueDropped (event): a rotation's overlap ended and the
	// previous value stopped working.
	ReasonPreviousValueDropped = "PreviousValueDropped"
)
