// Package jack holds what the operator, the sidecar and Jack's pods agree on
// that is not a Kubernetes type: the roles, the signing algorithms and key
// states, and every annotation, label, Secret data key and HTTP header name.
// It imports nothing outside the standard library, so the sidecar can share
// it without linking Kubernetes' libraries; the API types in api/v1alpha1
// alias its types for their fields.
package jack
