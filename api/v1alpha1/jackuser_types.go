package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

// Role is what a JackUser may do in Jack; it is defined, with its values,
// in package jack, which the sidecar shares without Kubernetes' libraries.
type Role = jack.Role

// JackUserSpec is the desired state of one person who may log in to Jack.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.id) || (has(self.id) && self.id == oldSelf.id)",message="id cannot be changed or removed once it is set: it is the user's identity in Jack; create a new JackUser instead",fieldPath=".id"
type JackUserSpec struct {
	// email is the address the user logs in with. It is compared
	// case-insensitively and must be unique among the JackUsers of a namespace.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^@[:space:][:cntrl:]]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$')",message="email must be an address like alice@example.com"
	Email string `json:"email"`

	// name is the user's display name, shown by Jack and carried in the
	// tokens the sidecar issues.
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('[^[:space:]]')",message="name must not be empty: give the user's display name"
	Name string `json:"name"`

	// role is what the user may do in Jack: admin (everything, including
	// settings and user management), manager (conversations, tasks, guests
	// and reports) or staff (conversations and tasks). A change takes effect
	// on the user's next request, without a new login.
	// +required
	Role Role `json:"role"`

	// passwordSecretRef names the Secret, in this JackUser's namespace, that
	// holds the user's password. The operator reads it only to hash it; the
	// plain password never leaves that Secret.
	// +required
	PasswordSecretRef PasswordSecretReference `json:"passwordSecretRef"`

	// disabled, when true, stops the user from logging in and ends every
	// session they have. Setting it back to false lets them log in again.
	// +optional
	// +kubebuilder:default=false
	Disabled bool `json:"disabled,omitempty"`

	// id is the user's identity in Jack, like "staff-123", carried as the
	// token subject. When omitted the operator assigns one and records it in
	// status.id. It cannot be changed or removed once set.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([a-z0-9-]*[a-z0-9])?$')",message="id must be lower-case letters, digits and dashes, starting and ending with a letter or digit, like staff-123"
	ID string `json:"id,omitempty"`
}

// PasswordSecretReference points at the key of a Secret that holds a password.
type PasswordSecretReference struct {
	// name of the Secret, in the JackUser's namespace.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="passwordSecretRef.name must be the name of a Secret: lower-case letters, digits, '-' and '.'"
	Name string `json:"name"`

	// key of the password in the Secret's data. Defaults to "password".
	// +optional
	// +kubebuilder:default=password
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// JackUserStatus is what the operator last observed and did for a JackUser.
type JackUserStatus struct {
	// id is the user's identity in Jack: spec.id when given, else one the
	// operator assigned when it first saw the user. It never changes.
	// +optional
	ID string `json:"id,omitempty"`

	// conditions describe the user's state. Ready is True when the user can
	// log in; its reason says why not otherwise. Propagated is True once
	// every ready sidecar of the namespace has loaded the user directory
	// with the user's current email and password (propagatedPasswordVersion),
	// so that a login works at whichever replica it lands on; the kubelet
	// takes a minute or more to bring a new directory to the sidecars.
	// SessionsEnded is True once every ready sidecar refuses the tokens
	// issued before sessionsValidAfter.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// sessionsValidAfter is when the user's sessions were last ended, by a
	// password change or by disabling the user, rounded up to the second.
	// Tokens issued before it are refused. (Token issue times are whole
	// seconds, so rounding up refuses exactly the tokens issued before the
	// sessions ended.)
	// +optional
	SessionsValidAfter *metav1.Time `json:"sessionsValidAfter,omitempty"`

	// passwordVersion changes whenever the user's password does and reveals
	// nothing about it. Sidecars watch it to refuse a login with a password
	// superseded before their mounted copy of the user directory is updated.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PasswordVersion string `json:"passwordVersion,omitempty"`

	// lastEndSessionsRequest is the last value of the
	// auth.jack.io/end-sessions annotation acted on, so the same value never
	// ends sessions twice.
	// +optional
	LastEndSessionsRequest string `json:"lastEndSessionsRequest,omitempty"`

	// sessionsEndConfirmed is the sessionsValidAfter that every ready sidecar
	// in the namespace has confirmed it acts on: once it equals
	// sessionsValidAfter, no replica accepts a token of the ended sessions.
	// The SessionsEnded condition says which sidecars have not, meanwhile.
	// +optional
	SessionsEndConfirmed *metav1.Time `json:"sessionsEndConfirmed,omitempty"`

	// propagatedPasswordVersion is the passwordVersion that every ready
	// sidecar in the namespace has confirmed it logs the user in with, with
	// the email and disabled of the Propagated condition's
	// observedGeneration; empty while a change is being confirmed. Once it
	// equals passwordVersion, and Propagated is True at the current
	// generation, a login with the current password works at every replica.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PropagatedPasswordVersion string `json:"propagatedPasswordVersion,omitempty"`

	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// JackUser is one person who may log in to Jack: their email, display name,
// role and a reference to the Secret holding their password.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ju,categories=jack
// +kubebuilder:printcolumn:name="Email",type=string,JSONPath=`.spec.email`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.role`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Propagated",type=string,JSONPath=`.status.conditions[?(@.type=="Propagated")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Disabled",type=boolean,JSONPath=`.spec.disabled`,priority=1
type JackUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the user.
	// +required
	Spec JackUserSpec `json:"spec"`

	// status is what the operator last observed and did.
	// +optional
	Status JackUserStatus `json:"status,omitempty"`
}

// JackUserList is a list of JackUsers.
//
// +kubebuilder:object:root=true
type JackUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []JackUser `json:"items"`
}

// EffectiveID is the user's identity in Jack: spec.id when set, else status.id.
func (u *JackUser) EffectiveID() string {
	if u.Spec.ID != "" {
		return u.Spec.ID
	}
	return u.Status.ID
}

func init() {
	SchemeBuilder.Register(&JackUser{}, &JackUserList{})
}
