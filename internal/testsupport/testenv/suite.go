package testenv

import (
	"fmt"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

// Main is the TestMain of a package whose tests share one API server:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m, scheme, setup)) }
//
// It starts the API server with scheme and opts, calls setup, which wires the
// package's globals (the Env, clients, managers…), runs the tests, and stops
// everything; it returns the exit code for os.Exit. A failure to start, or an
// error from setup, is printed and fails the run without running a test.
//
// teardown, when setup returns one, runs after the tests, or after setup's
// error, and before the API server stops: setup returns it with its error
// when it has already started something.
func Main(m *testing.M, scheme *runtime.Scheme, setup func(*Env) (teardown func(), err error), opts ...Option) int {
	env, err := Start(scheme, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot start the test API server:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the test API server:", err)
		}
	}()
	teardown, err := setup(env)
	if teardown != nil {
		defer teardown()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
