package kube

import (
	"testing"
	"time"
)

func TestBackoffDoublesWithJitterUpToItsCapAndStartsOverAfterASuccess(t *testing.T) {
	b := backoff{initial: 200 * time.Millisecond, max: 10 * time.Second}
	// Each wait is drawn from the upper half of its step.
	steps := []time.Duration{200, 400, 800, 1600, 3200, 6400, 10000, 10000}
	for round := range 50 {
		for i, step := range steps {
			step *= time.Millisecond
			if d := b.next(); d < step/2 || d > step {
				t.Fatalf("round %d, failure %d waits %v; want between %v and %v", round, i+1, d, step/2, step)
			}
		}
		b.reset()
	}
}

func TestWatchTimeoutsSpreadBetweenTheMinimumAndTwiceIt(t *testing.T) {
	tests := map[string]struct {
		min       time.Duration
		low, high int
	}{
		"the default is client-go's 5 to 10 minutes": {0, 300, 600},
		"a short minimum for tests":                  {time.Second, 1, 2},
		"never below a second":                       {time.Millisecond, 1, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			seen := map[int]bool{}
			for range 200 {
				s := ListWatch{MinWatchTimeout: tc.min}.watchTimeout()
				if s < tc.low || s > tc.high {
					t.Fatalf("timeoutSeconds %d; want between %d and %d", s, tc.low, tc.high)
				}
				seen[s] = true
			}
			if tc.high-tc.low > 10 && len(seen) < 10 {
				t.Errorf("only %d distinct timeouts in 200 draws: not jittered", len(seen))
			}
		})
	}
}
