package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// JackAPIKeySpec is the desired state of one API key: a credential for a
// server-to-server integration that calls Jack's API as a role, without a
// login. The operator generates the key; nobody writes one.
// +kubebuilder:validation:XValidation:rule="!has(self.rateLimit) || !has(self.rateLimit.burst) || self.rateLimit.burst >= self.rateLimit.requestsPerSecond",message="rateLimit.burst must be at least rateLimit.requestsPerSecond, or the key could never use its rate"
type JackAPIKeySpec struct {
	// role is what the key may do in Jack, as a JackUser of that role:
	// admin, manager or staff. A change takes effect on the key's next
	// request.
	// +required
	Role Role `json:"role"`

	// routes, when given, narrows the key to these of its role's routes: a
	// request must be allowed to the role AND match one of them. Each is
	// "METHOD /path" or "/path" (any method), in the sidecar's policy
	// pattern syntax: "/api/v1/tasks", "/api/v1/tasks/*", "/api/v1/reports/**",
	// "GET /api/v1/guests/**". Empty: every route of the role.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^([A-Z]+ )?/[^[:space:]]*$')",message="each route must be \"/path\" or \"METHOD /path\", such as \"GET /api/v1/tasks/**\""
	Routes []string `json:"routes,omitempty"`

	// expires is when the key stops working. Optional: a key without it
	// never expires, which Jack's API allows for server-to-server
	// integrations, but an expiry that someone must renew is the safer
	// habit (kubectl get shows keys without one).
	// +optional
	Expires *metav1.Time `json:"expires,omitempty"`

	// disabled, when true, refuses the key at every sidecar within two
	// seconds; false again lets it work, with the same value.
	// +optional
	// +kubebuilder:default=false
	Disabled bool `json:"disabled,omitempty"`

	// displayName says what the key is for, such as "billing export".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	DisplayName string `json:"displayName,omitempty"`

	// owner is who answers for the key: a team, a person's email.
	// +optional
	// +kubebuilder:validation:MaxLength=254
	Owner string `json:"owner,omitempty"`

	// rotationOverlap is how long the previous value keeps working after a
	// rotation (kubectl annotate jackapikey NAME auth.jack.io/rotate=<value>),
	// so that its consumers can pick up the new one. Default 24h; 0s drops
	// the previous value at once.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('720h')",message="rotationOverlap must be between 0s and 720h (30 days)"
	RotationOverlap *metav1.Duration `json:"rotationOverlap,omitempty"`

	// rateLimit, when given, bounds the key's requests per sidecar replica;
	// past it the sidecar answers 429 with Retry-After. None by default.
	// +optional
	RateLimit *APIKeyRateLimit `json:"rateLimit,omitempty"`
}

// APIKeyRateLimit is a token bucket per sidecar replica.
type APIKeyRateLimit struct {
	// requestsPerSecond is the sustained rate.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	RequestsPerSecond int32 `json:"requestsPerSecond"`

	// burst is how many requests may come at once; requestsPerSecond when
	// omitted.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Burst int32 `json:"burst,omitempty"`
}

// APIKeyValueState says whether a value of a key is the one in its Secret.
// +kubebuilder:validation:Enum=Current;Previous
type APIKeyValueState string

const (
	// APIKeyCurrent is the value in the Secret.
	APIKeyCurrent APIKeyValueState = "Current"
	// APIKeyPrevious is the value a rotation replaced; it works until its
	// validUntil (the rotation plus spec.rotationOverlap).
	APIKeyPrevious APIKeyValueState = "Previous"
)

// APIKeyValue describes one value of a key without revealing it.
type APIKeyValue struct {
	// digest is the SHA-256 of the value, in hex: what sidecars compare a
	// presented key with. A key has at least 160 random bits, so its digest
	// cannot be turned back into it; it is not a secret.
	// +kubebuilder:validation:Pattern=`^[a-f0-9]{64}$`
	Digest string `json:"digest"`

	// last4 is the value's last four characters, for people to tell values
	// apart (a leaked-key report, a consumer's configuration).
	// +kubebuilder:validation:MaxLength=4
	Last4 string `json:"last4"`

	// state is Current (the value in the Secret) or Previous.
	State APIKeyValueState `json:"state"`

	// createdAt is when the operator generated the value.
	CreatedAt metav1.Time `json:"createdAt"`

	// validUntil, on a Previous value, is when its overlap ends.
	// +optional
	ValidUntil *metav1.Time `json:"validUntil,omitempty"`
}

// JackAPIKeyStatus is what the operator last did for a key.
type JackAPIKeyStatus struct {
	// id identifies the key in metrics, logs and identity headers
	// (X-Jack-User-Api-Key-Id): the key's prefix-free public part, stable for its
	// life across rotations. Not a credential.
	// +optional
	ID string `json:"id,omitempty"`

	// secretName is the Secret, in the key's namespace, that holds the
	// current value under the data key "apikey": what the consumer mounts.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// values are the key's current value and, during a rotation's overlap,
	// the previous one; never the values themselves.
	// +optional
	// +kubebuilder:validation:MaxItems=2
	Values []APIKeyValue `json:"values,omitempty"`

	// expires repeats spec.expires, for the printer column; empty when the
	// key never expires.
	// +optional
	Expires *metav1.Time `json:"expires,omitempty"`

	// lastUsed is the start of the last hour in which a sidecar accepted the
	// key: coarse on purpose, so that no request writes to the API server.
	// +optional
	LastUsed *metav1.Time `json:"lastUsed,omitempty"`

	// lastRotateRequest is the last value of the auth.jack.io/rotate
	// annotation acted on, so the same value never rotates twice.
	// +optional
	LastRotateRequest string `json:"lastRotateRequest,omitempty"`

	// conditions: Ready is True when the key works (its Secret holds the
	// current value and it is neither disabled nor expired); its reason
	// says why not otherwise.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// JackAPIKey is an API key for a server-to-server integration with Jack:
// presented as "Authorization: Bearer <key>", it acts as its role (within
// spec.routes) at every sidecar of its namespace, until it is disabled,
// expires or is deleted. The operator generates the value, writes it once
// to the Secret named in status.secretName, and publishes only its SHA-256
// digest and last four characters.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=jak,categories=jack
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 246",message="a JackAPIKey's name must be at most 246 characters: its Secret is named <name>-apikey, at most 253"
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.role`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expires`
// +kubebuilder:printcolumn:name="Last Used",type=date,JSONPath=`.status.lastUsed`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Disabled",type=boolean,JSONPath=`.spec.disabled`,priority=1
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`,priority=1
type JackAPIKey struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the key.
	// +required
	Spec JackAPIKeySpec `json:"spec"`

	// +optional
	Status JackAPIKeyStatus `json:"status,omitzero"`
}

// JackAPIKeyList is a list of JackAPIKeys.
//
// +kubebuilder:object:root=true
type JackAPIKeyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []JackAPIKey `json:"items"`
}

func init() {
	SchemeBuilder.Register(&JackAPIKey{}, &JackAPIKeyList{})
}
