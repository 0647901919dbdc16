// Package throttle slows down password guessing: token buckets per key (an
// account's email, a client's address), held in memory with a bound on how
// many idle buckets are kept.
//
// Used by the sidecar's server, for logins.
package throttle

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a set of token buckets, one per key, all with the same rate.
type Limiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	maxKeys int
	buckets map[string]*rate.Limiter
}

// New makes a Limiter allowing burst actions at once per key, refilled at
// one per interval. Past maxKeys keys, buckets that have refilled completely
// (they remember nothing) are forgotten.
func New(interval time.Duration, burst, maxKeys int) *Limiter {
	return &Limiter{every: rate.Every(interval), burst: burst, maxKeys: maxKeys, buckets: map[string]*rate.Limiter{}}
}

// Check reports whether key may act at now without spending anything, and
// if not, how long until it may.
func (l *Limiter) Check(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok || b.TokensAt(now) >= 1 {
		return true, 0
	}
	return false, l.wait(b, now)
}

// Take spends one action for key at now. It reports whether one was left,
// and if not, how long until one is.
func (l *Limiter) Take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		l.evictIdle(now)
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	return false, l.wait(b, now)
}

func (l *Limiter) wait(b *rate.Limiter, now time.Time) time.Duration {
	r := b.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return max(d, time.Second)
}

// evictIdle forgets full buckets once there are too many keys. A bucket
// that is not full is never forgotten, so flooding with new keys cannot
// reset the throttle of an account under attack.
func (l *Limiter) evictIdle(now time.Time) {
	if len(l.buckets) < l.maxKeys {
		return
	}
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// Len is the number of keys held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
