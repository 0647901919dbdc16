// Package jackctl holds the library behind the kubectl plugin's day-2 verbs:
// keys (key status, rotate, revoke), explain (inject explain), doctor, and
// install, which finds the installed operator and reads its flags the way
// the operator does. Each verb takes a controller-runtime client built with
// Scheme, writes what it tells the user to an io.Writer, and is tested
// against a real API server. ReadContext is for the reads of every wait.
//
// Used by cmd/kubectl-jack.
package jackctl

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// Scheme is what the plugin's client talks with: Kubernetes' built-in kinds
// (Deployments, Leases, webhook configurations among them) and the
// project's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, authv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // static registrations: a failure is a programming error
		}
	}
	return s
}
