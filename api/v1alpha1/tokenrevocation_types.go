package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TokenRevocationSpec names one logged-out token. It cannot change: a
// revocation is a fact, and it ends by being deleted once the token it names
// has expired.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a TokenRevocation cannot be changed; delete it and create another"
type TokenRevocationSpec struct {
	// signingKey is the SigningKey whose sidecars refuse the token: the one
	// the logout happened behind.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SigningKey string `json:"signingKey"`

	// tokenID is the token's "jti" claim. It is not a credential: the token
	// cannot be rebuilt from it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	TokenID string `json:"tokenID"`

	// userID is the token's subject ("sub"), for people reading the list;
	// sidecars match on tokenID alone.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	UserID string `json:"userID,omitempty"`

	// expiresAt is when the token expires. The operator deletes the
	// revocation after that (plus the verifiers' clock-skew leeway), since
	// an expired token is refused anyway.
	ExpiresAt metav1.Time `json:"expiresAt"`
}

// TokenRevocationStatus says which sidecars refuse what the revocation
// names. The operator writes it; the sidecar that recorded the logout waits
// for it before it answers.
type TokenRevocationStatus struct {
	// confirmedGeneration is the metadata.generation of the revocation that
	// every ready sidecar of the SigningKey was confirmed to act on.
	// +optional
	ConfirmedGeneration int64 `json:"confirmedGeneration,omitempty"`

	// refusedBy is "confirmed/total": how many of the SigningKey's ready
	// sidecars have confirmed that they refuse the token.
	// +optional
	RefusedBy string `json:"refusedBy,omitempty"`

	// confirmedAt is when every sidecar had confirmed.
	// +optional
	ConfirmedAt *metav1.Time `json:"confirmedAt,omitempty"`

	// conditions: Confirmed is True once every ready sidecar refuses the
	// token; while not, its message names the sidecars that have not
	// confirmed.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TokenRevocation records that one token was logged out, so that every
// sidecar of its SigningKey refuses it, not only the one that saw the
// logout. Sidecars create them; the operator confirms with every ready
// sidecar that it refuses the token (status) and deletes the revocation
// when the token would have expired. Its name is derived from the token id
// (see jack.RevocationName), so logging out twice is one object.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=trev,categories=jack
// +kubebuilder:printcolumn:name="Signing Key",type=string,JSONPath=`.spec.signingKey`
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.userID`
// +kubebuilder:printcolumn:name="Refused By",type=string,JSONPath=`.status.refusedBy`
// +kubebuilder:printcolumn:name="Token Expires",type=string,JSONPath=`.spec.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TokenRevocation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TokenRevocationSpec `json:"spec"`

	// +optional
	Status TokenRevocationStatus `json:"status,omitzero"`
}

// TokenRevocationList is a list of TokenRevocations.
//
// +kubebuilder:object:root=true
type TokenRevocationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TokenRevocation `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TokenRevocation{}, &TokenRevocationList{})
}
