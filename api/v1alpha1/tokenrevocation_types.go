package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TokenRevocationSpec names a session whose tokens are refused — all of
// them once it ended (a logout, a reused refreshed token), or those a
// refresh superseded — or, for a token issued before sessions existed, one
// logged-out token. It only ever grows stricter: the names never change,
// a session that ended never resumes, the generation never goes back and
// the expiry never comes sooner. It ends by being deleted once every token
// it covers has expired.
// +kubebuilder:validation:XValidation:rule="has(self.tokenID) != has(self.sessionID)",message="a TokenRevocation names either a tokenID or a sessionID"
// +kubebuilder:validation:XValidation:rule="self.signingKey == oldSelf.signingKey && (has(self.tokenID) ? has(oldSelf.tokenID) && self.tokenID == oldSelf.tokenID : !has(oldSelf.tokenID)) && (has(self.sessionID) ? has(oldSelf.sessionID) && self.sessionID == oldSelf.sessionID : !has(oldSelf.sessionID))",message="a TokenRevocation's signingKey, tokenID and sessionID cannot be changed; delete it and create another"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.ended) || !oldSelf.ended || (has(self.ended) && self.ended)",message="an ended session cannot resume"
// +kubebuilder:validation:XValidation:rule="(has(self.generation) ? self.generation : 0) >= (has(oldSelf.generation) ? oldSelf.generation : 0)",message="a session's generation cannot go back"
// +kubebuilder:validation:XValidation:rule="self.expiresAt >= oldSelf.expiresAt",message="a TokenRevocation's expiresAt cannot come sooner"
// +kubebuilder:validation:XValidation:rule="!has(self.tokenID) || (!has(self.ended) && !has(self.generation) && !has(self.graceUntil))",message="ended, generation and graceUntil belong to a session (sessionID)"
type TokenRevocationSpec struct {
	// signingKey is the SigningKey whose sidecars refuse the tokens: the one
	// the session's login happened behind.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SigningKey string `json:"signingKey"`

	// tokenID is the "jti" claim of one logged-out token that carries no
	// session id (issued before sessions existed). It is not a credential:
	// the token cannot be rebuilt from it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	TokenID string `json:"tokenID,omitempty"`

	// sessionID is the "sid" claim every token of the session carries.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	SessionID string `json:"sessionID,omitempty"`

	// ended, once true, refuses every token of the session.
	// +optional
	Ended bool `json:"ended,omitempty"`

	// endedBecause says why the session ended: Logout, or TokenReuse when a
	// token that a refresh had superseded was presented again after its
	// grace (refresh-token reuse detection, RFC 9700 §4.14).
	// +optional
	// +kubebuilder:validation:Enum=Logout;TokenReuse
	EndedBecause string `json:"endedBecause,omitempty"`

	// generation is the session's latest refresh count: tokens of the
	// session carry theirs (claim "sgen"); one older than generation-1 is
	// refused, and one of generation-1 only until graceUntil, so that
	// requests in flight with the token a refresh replaced still finish.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Generation int64 `json:"generation,omitempty"`

	// graceUntil is when the tokens of generation-1 stop being accepted.
	// +optional
	GraceUntil *metav1.Time `json:"graceUntil,omitempty"`

	// userID is the token's subject ("sub"), for people reading the list;
	// sidecars match on tokenID alone.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	UserID string `json:"userID,omitempty"`

	// expiresAt is when the last token it covers expires. The operator
	// deletes the revocation after that (plus the verifiers' clock-skew
	// leeway), since an expired token is refused anyway.
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

// TokenRevocation records, for one session, what every sidecar of its
// SigningKey must refuse: every token of it once it ended (a logout), or the
// tokens a refresh superseded — so that the sidecar that saw the logout or
// the refresh is not the only one that knows. One object a session, not a
// token. Sidecars create and update them; the operator confirms with every
// ready sidecar that it acts on each generation (status) and deletes the
// revocation when the last token it covers would have expired. Its name is
// derived from the session id (jack.SessionRevocationName), or for a token
// without a session from its id (jack.RevocationName), so a logout at two
// replicas is one object.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=trev,categories=jack
// +kubebuilder:printcolumn:name="Signing Key",type=string,JSONPath=`.spec.signingKey`
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.userID`
// +kubebuilder:printcolumn:name="Ended",type=boolean,JSONPath=`.spec.ended`
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
