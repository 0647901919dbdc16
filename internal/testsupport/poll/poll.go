// Package poll waits, in a test, for something that happens in the
// background: a controller's write, a server becoming ready, a watch
// delivering a change. The tests of the operator (controllers/…), of the
// sidecar (sidecar/…) and the suites under test/ all wait with it, so every
// wait backs off the same way and fails with the same kind of message.
//
// It imports only the standard library, so any test may use it.
package poll

import (
	"errors"
	"testing"
	"time"
)

const (
	// firstInterval notices a quick change quickly.
	firstInterval = 10 * time.Millisecond
	// maxInterval keeps a long wait from hammering the API server or a
	// process on a busy machine.
	maxInterval = 250 * time.Millisecond
)

// Until calls check every few milliseconds (start ~10ms, back off to at most
// ~250ms) until it returns nil, and fails the test (t.Fatalf, from the
// caller's line via t.Helper) with "<what>: not within <within>: <last
// error>" if it has not by then.
//
// check runs on the test's goroutine, so it may itself fail the test. It is
// called once more at the deadline, so a condition that holds by then passes.
func Until(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	interval := firstInterval
	for {
		err := check()
		if err == nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: not within %s: %v", what, within, err)
			return // for a testing.TB whose Fatalf returns
		}
		time.Sleep(min(interval, left))
		interval = min(2*interval, maxInterval)
	}
}

// errFalse is the last error of a condition True gave up on.
var errFalse = errors.New("still false")

// True is Until for a condition that has no reason to give.
func True(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	Until(t, within, what, func() error {
		if !cond() {
			return errFalse
		}
		return nil
	})
}

// Within is True that also logs, and returns, how long cond took to hold,
// to the poll's resolution: for tests that report a propagation time.
func Within(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	True(t, within, what, cond)
	took := time.Since(start)
	t.Logf("%s: after %s", what, took.Round(time.Millisecond))
	return took
}
