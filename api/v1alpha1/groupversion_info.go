// Package v1alpha1 holds the auth.jack.io/v1alpha1 API: JackUser (one person
// who may log in to Jack) and SigningKey (the key ring that signs and verifies
// Jack's JWTs), together with every name the operator and the sidecar must
// agree on: condition types and reasons, annotations, labels and Secret keys.
//
// +kubebuilder:object:generate=true
// +groupName=auth.jack.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "auth.jack.io", Version: "v1alpha1"}

	// SchemeBuilder registers this package's kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
