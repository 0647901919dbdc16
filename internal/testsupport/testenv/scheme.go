package testenv

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// Scheme returns a new scheme with Kubernetes' built-in kinds and the
// project's, which is what every suite talks to the API server with.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, authv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // static registrations: a failure is a programming error
		}
	}
	return s
}
