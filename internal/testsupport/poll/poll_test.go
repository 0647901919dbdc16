package poll

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatalf records the failure and ends the
// goroutine, as testing.T's does. Any other method panics (the embedded TB
// is nil): Until and True must use nothing else.
type recorder struct {
	testing.TB
	helpers int
	logs    int
	failure string
}

func (r *recorder) Helper() { r.helpers++ }

func (r *recorder) Logf(string, ...any) { r.logs++ }

func (r *recorder) Fatalf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls wait as a test body: on a goroutine of its own, which a failure
// ends. returned is whether wait came back rather than failing.
func run(wait func(testing.TB)) (r *recorder, returned bool) {
	r = &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait(r)
		returned = true
	}()
	<-done
	return r, returned
}

func TestUntil(t *testing.T) {
	cases := map[string]struct {
		within time.Duration
		// holdsAt is the try from which check returns nil; 0 for never.
		holdsAt            int
		minTries, maxTries int
		fails              bool
	}{
		"a check that holds at once is called once": {
			within: time.Second, holdsAt: 1, minTries: 1, maxTries: 1,
		},
		"a check that holds on the fourth try passes on it": {
			within: 10 * time.Second, holdsAt: 4, minTries: 4, maxTries: 4,
		},
		"a check that never holds fails with what and its last error, having tried early and often": {
			within: 100 * time.Millisecond, minTries: 3, maxTries: 100, fails: true,
		},
		"a long wait backs off instead of trying every 10ms": {
			within: time.Second, minTries: 3, maxTries: 20, fails: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tries := 0
			start := time.Now()
			r, returned := run(func(tb testing.TB) {
				Until(tb, tc.within, "the thing happens", func() error {
					tries++
					if tc.holdsAt != 0 && tries >= tc.holdsAt {
						return nil
					}
					return fmt.Errorf("try %d saw nothing", tries)
				})
			})
			took := time.Since(start)

			if tries < tc.minTries || tries > tc.maxTries {
				t.Errorf("check was called %d times in %s, want %d to %d", tries, took, tc.minTries, tc.maxTries)
			}
			if r.helpers == 0 {
				t.Error("Until does not call t.Helper, so a failure points into the poll package")
			}
			if !tc.fails {
				if !returned || r.failure != "" {
					t.Fatalf("Until failed (%q) for a check that holds", r.failure)
				}
				return
			}
			if returned {
				t.Error("Until returned after the deadline instead of failing the test")
			}
			if want := fmt.Sprintf("the thing happens: not within %s: try %d saw nothing", tc.within, tries); r.failure != want {
				t.Errorf("the failure says %q, want %q", r.failure, want)
			}
			if took < tc.within {
				t.Errorf("Until gave up after %s, before its %s were up", took, tc.within)
			}
		})
	}
}

func TestTrue(t *testing.T) {
	cases := map[string]struct {
		holdsAt int // 0 for never
		fails   bool
	}{
		"a condition that becomes true passes":   {holdsAt: 3},
		"a condition that stays false fails":     {fails: true},
		"a condition that is true at once holds": {holdsAt: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tries := 0
			r, returned := run(func(tb testing.TB) {
				True(tb, 100*time.Millisecond, "the light turns green", func() bool {
					tries++
					return tc.holdsAt != 0 && tries >= tc.holdsAt
				})
			})
			if r.helpers < 2 {
				t.Errorf("t.Helper called %d times, want by True and by Until", r.helpers)
			}
			if !tc.fails {
				if !returned || r.failure != "" || tries != tc.holdsAt {
					t.Fatalf("True failed (%q) after %d tries for a condition that holds at try %d", r.failure, tries, tc.holdsAt)
				}
				return
			}
			if returned || !strings.HasPrefix(r.failure, "the light turns green: not within 100ms: ") {
				t.Errorf("returned %v with the failure %q; want a failure naming what and the time", returned, r.failure)
			}
		})
	}
}

// Within reports how long the condition took, and fails as True does.
func TestWithin(t *testing.T) {
	start := time.Now()
	holds := start.Add(60 * time.Millisecond)
	var took time.Duration
	r, returned := run(func(tb testing.TB) {
		took = Within(tb, time.Second, "the kettle boils", func() bool { return time.Now().After(holds) })
	})
	switch {
	case !returned || r.failure != "":
		t.Fatalf("Within failed (%q) for a condition that holds after 60ms", r.failure)
	case r.logs != 1:
		t.Errorf("Within logged %d lines, want the time it took", r.logs)
	case took < 60*time.Millisecond || took > time.Since(start):
		t.Errorf("Within = %s, want between 60ms and %s", took, time.Since(start))
	}
	r, returned = run(func(tb testing.TB) {
		Within(tb, 50*time.Millisecond, "the kettle boils", func() bool { return false })
	})
	if returned || !strings.HasPrefix(r.failure, "the kettle boils: not within 50ms: ") {
		t.Errorf("returned %v with the failure %q; want a failure naming what and the time", returned, r.failure)
	}
}
