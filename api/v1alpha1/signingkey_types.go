package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

// Algorithm and KeyState are defined, with their values, in package jack,
// which the sidecar shares without Kubernetes' libraries.
type (
	Algorithm = jack.Algorithm
	KeyState  = jack.KeyState
)

// SigningKeySpec is the desired state of a key ring.
// +kubebuilder:validation:XValidation:rule="has(self.secretName) == has(oldSelf.secretName) && (!has(self.secretName) || self.secretName == oldSelf.secretName)",message="secretName cannot be changed once the SigningKey exists: consumers read the key ring from it; create a new SigningKey to use another Secret",fieldPath=".secretName"
type SigningKeySpec struct {
	// algorithm is the JWS algorithm new keys sign with: HS256 (default),
	// HS384 or HS512 share a secret between signer and verifiers; RS256,
	// ES256 or EdDSA also publish their public keys as a JWKS in a ConfigMap.
	// Changing it rotates to a key of the new algorithm; the old key retires
	// normally, so no session ends.
	// +optional
	// +kubebuilder:default=HS256
	Algorithm Algorithm `json:"algorithm,omitempty"`

	// secretName is the Secret, in this namespace, that the operator creates
	// and owns. It holds JWT_SECRET (the active key, for programs that read
	// that variable) and the whole key ring. Defaults to the SigningKey's
	// name followed by "-jwt". It cannot be changed later. The operator also
	// keeps a backup of the ring in "<secretName>-backup" and publishes public
	// keys in the ConfigMap "<secretName>-jwks".
	// +optional
	// +kubebuilder:validation:MaxLength=246
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="secretName must be the name of a Secret: lower-case letters, digits, '-' and '.'"
	SecretName string `json:"secretName,omitempty"`

	// tokenTTL is how long a token stays valid after it is issued, from 1m to
	// 720h. Defaults to 24h. A retired key stays in the ring this long (plus
	// a small leeway for clock skew) after it stops signing.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="tokenTTL must be a positive duration such as 24h or 90m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('720h'))",message="tokenTTL must be between 1m and 720h (30 days)"
	TokenTTL metav1.Duration `json:"tokenTTL,omitzero"`

	// sessionLifetime is the absolute end of a session: how long after a
	// login the tokens refreshed from it may last, from 1h to 8760h.
	// Defaults to 720h (30 days). A refresh never issues a token that
	// outlives its session, and a refresh after the session's end is refused
	// with TOKEN_EXPIRED: the user logs in again.
	// +optional
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="sessionLifetime must be a positive duration such as 720h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1h') && duration(self) <= duration('8760h'))",message="sessionLifetime must be between 1h and 8760h (a year)"
	SessionLifetime metav1.Duration `json:"sessionLifetime,omitzero"`

	// rotation says when keys are replaced. A new key is published (verifies
	// only) for rotation.prepublish before it signs, so every verifier has it
	// first.
	// +optional
	// +kubebuilder:default={}
	Rotation RotationPolicy `json:"rotation,omitzero"`

	// issuer, when set, is the "iss" claim of every token issued with this
	// key ring, and verifiers refuse tokens with another issuer.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Issuer string `json:"issuer,omitempty"`

	// audience, when set, is the "aud" claim of every token issued with this
	// key ring, and verifiers refuse tokens meant for another audience.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Audience string `json:"audience,omitempty"`

	// revokedKeyIDs lists key ids ("kid") that must never verify again, for
	// when a key is compromised. A listed key is dropped from the ring at
	// once and, if it was active, a fresh key becomes active without being
	// published first. Everyone whose token it signed is logged out.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	RevokedKeyIDs []string `json:"revokedKeyIDs,omitempty"`

	// legacySecretRef imports an existing JWT_SECRET, such as the one Jack
	// used before this operator, as a retired key. Tokens it signed (which
	// carry no "kid") keep working until they expire; it never signs again.
	// +optional
	LegacySecretRef *LegacySecretReference `json:"legacySecretRef,omitempty"`
}

// RotationPolicy says when a SigningKey's keys are replaced.
// +kubebuilder:validation:XValidation:rule="!has(self.interval) || !has(self.prepublish) || !self.interval.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || !self.prepublish.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.interval) > duration(self.prepublish)",message="rotation.interval must be longer than rotation.prepublish: a new key must finish being published before the next rotation starts",fieldPath=".interval"
type RotationPolicy struct {
	// interval is how long a key signs before it is replaced, from 1h to
	// 8760h (a year). Defaults to 720h (30 days). To rotate now, annotate
	// the SigningKey: kubectl annotate signingkey NAME auth.jack.io/rotate=<new value>.
	// +optional
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="rotation.interval must be a positive duration such as 720h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1h') && duration(self) <= duration('8760h'))",message="rotation.interval must be between 1h and 8760h (a year)"
	Interval metav1.Duration `json:"interval,omitzero"`

	// prepublish is the least time a new key only verifies before it starts
	// to sign, from 10s to 24h. Defaults to 5m. A key is promoted only once
	// every ready sidecar of this SigningKey holds it (see
	// propagationTimeout) and prepublish has passed, so prepublish need not
	// cover the kubelet's delay; it is the floor for verifiers the operator
	// cannot see, such as external services that cache the public JWKS of
	// an asymmetric key.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="rotation.prepublish must be a positive duration such as 5m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('10s') && duration(self) <= duration('24h'))",message="rotation.prepublish must be between 10s and 24h"
	Prepublish metav1.Duration `json:"prepublish,omitzero"`

	// propagationTimeout bounds how long a published key waits, past
	// prepublish, for sidecars that have not loaded it yet, from 1m to 24h.
	// Defaults to 15m. While it runs the key does not sign, the Propagated
	// condition names the sidecars it waits for, and an event says so; when
	// it ends the key is promoted anyway, with a Warning event
	// (PropagationTimedOut) naming the sidecars that still lack it, which
	// then refuse the new tokens until their kubelet delivers the ring.
	// +optional
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="rotation.propagationTimeout must be a positive duration such as 15m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('24h'))",message="rotation.propagationTimeout must be between 1m and 24h"
	PropagationTimeout metav1.Duration `json:"propagationTimeout,omitzero"`
}

// LegacySecretReference points at the key of a Secret that holds a
// pre-existing JWT signing secret.
type LegacySecretReference struct {
	// name of the Secret, in the SigningKey's namespace.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="legacySecretRef.name must be the name of a Secret: lower-case letters, digits, '-' and '.'"
	Name string `json:"name"`

	// key of the secret in the Secret's data. Defaults to "JWT_SECRET".
	// +optional
	// +kubebuilder:default=JWT_SECRET
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// KeyStatus describes one key of the ring. It never holds key material.
type KeyStatus struct {
	// id is the key id, carried as "kid" in the header of the tokens it signs.
	// +required
	ID string `json:"id"`

	// state is where the key is in its life: Published, Active, Retired or Revoked.
	// +required
	State KeyState `json:"state"`

	// algorithm is the JWS algorithm of this key.
	// +required
	Algorithm Algorithm `json:"algorithm"`

	// fingerprint identifies the key without revealing it: "sha256:" and the
	// first 16 hex digits of the SHA-256 of the public key, or of the secret
	// for HMAC keys.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`

	// legacy is true for a key imported from spec.legacySecretRef.
	// +optional
	Legacy bool `json:"legacy,omitempty"`

	// publishedAt is when the key entered the ring.
	// +optional
	PublishedAt *metav1.Time `json:"publishedAt,omitempty"`

	// activatedAt is when the key started to sign (or will, while Published).
	// +optional
	ActivatedAt *metav1.Time `json:"activatedAt,omitempty"`

	// retiredAt is when the key stopped signing.
	// +optional
	RetiredAt *metav1.Time `json:"retiredAt,omitempty"`

	// expiresAt is when a retired key leaves the ring: the last token it
	// signed has expired by then.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// sidecars is how many of the SigningKey's ready sidecars (status.sidecars)
	// have loaded this key, as last read from them.
	// +optional
	Sidecars *int32 `json:"sidecars,omitempty"`
}

// SigningKeyStatus is what the operator last observed and did for a SigningKey.
type SigningKeyStatus struct {
	// secretName is the Secret that holds the key ring.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// activeKeyID is the id of the key that signs new tokens.
	// +optional
	ActiveKeyID string `json:"activeKeyID,omitempty"`

	// keys lists every key in the ring with its state and times.
	// +optional
	// +listType=map
	// +listMapKey=id
	Keys []KeyStatus `json:"keys,omitempty"`

	// lastRotationTime is when a key last became active.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// nextRotationTime is when the next scheduled rotation starts.
	// +optional
	NextRotationTime *metav1.Time `json:"nextRotationTime,omitempty"`

	// lastRotateRequest is the last value of the auth.jack.io/rotate
	// annotation that was acted on, so the same value never rotates twice.
	// +optional
	LastRotateRequest string `json:"lastRotateRequest,omitempty"`

	// sidecars is how many ready sidecars, injected into this namespace's
	// pods for this SigningKey, the operator last read what they hold from.
	// +optional
	Sidecars *int32 `json:"sidecars,omitempty"`

	// propagation is "held/total": how many of those sidecars hold the
	// newest key of the ring (the published key during a rotation, else the
	// active key).
	// +optional
	Propagation string `json:"propagation,omitempty"`

	// conditions describe the key ring's state. Ready is True when a key is
	// active and the Secret holds the ring. Propagated is True when every
	// ready sidecar holds every key that signs or is about to, and no
	// rotation is under way; kubectl wait --for=condition=Propagated waits
	// for a rotation to finish.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// SigningKey is the key ring that signs and verifies Jack's JWTs. The
// operator keeps it in a Secret and rotates it without ending any session.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sk,categories=jack
// +kubebuilder:validation:XValidation:rule="has(self.spec.secretName) || size(self.metadata.name) <= 242",message="a SigningKey whose name is longer than 242 characters needs a shorter spec.secretName: the Secrets it owns are named after it with suffixes of up to 11 characters"
// +kubebuilder:printcolumn:name="Algorithm",type=string,JSONPath=`.spec.algorithm`
// +kubebuilder:printcolumn:name="Active Key",type=string,JSONPath=`.status.activeKeyID`
// +kubebuilder:printcolumn:name="Last Rotation",type=date,JSONPath=`.status.lastRotationTime`
// +kubebuilder:printcolumn:name="Next Rotation",type=string,JSONPath=`.status.nextRotationTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Sidecars",type=string,JSONPath=`.status.propagation`
// +kubebuilder:printcolumn:name="Propagated",type=string,JSONPath=`.status.conditions[?(@.type=="Propagated")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SigningKey struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the key ring.
	// +optional
	// +kubebuilder:default={}
	Spec SigningKeySpec `json:"spec,omitzero"`

	// status is what the operator last observed and did.
	// +optional
	Status SigningKeyStatus `json:"status,omitempty"`
}

// SigningKeyList is a list of SigningKeys.
//
// +kubebuilder:object:root=true
type SigningKeyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SigningKey `json:"items"`
}

// DefaultSecretNameSuffix follows a SigningKey's name to form the name of its
// Secret when spec.secretName is not set.
const DefaultSecretNameSuffix = "-jwt"

// Suffixes of the other objects a SigningKey owns, after its Secret's name.
const (
	BackupSecretSuffix  = "-backup"
	JWKSConfigMapSuffix = "-jwks"
)

// SecretName is the Secret that holds this SigningKey's ring: spec.secretName,
// or the SigningKey's name followed by DefaultSecretNameSuffix.
func (k *SigningKey) SecretName() string {
	if k.Spec.SecretName != "" {
		return k.Spec.SecretName
	}
	return k.Name + DefaultSecretNameSuffix
}

// BackupSecretName is the Secret holding the operator's copy of the ring,
// from which the main Secret is repaired if it is edited or deleted.
func (k *SigningKey) BackupSecretName() string { return k.SecretName() + BackupSecretSuffix }

// JWKSConfigMapName is the ConfigMap publishing the ring's public keys.
func (k *SigningKey) JWKSConfigMapName() string { return k.SecretName() + JWKSConfigMapSuffix }

func init() {
	SchemeBuilder.Register(&SigningKey{}, &SigningKeyList{})
}
