package server

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/sidecar/internal/api"
)

// errLoginBusy answers a login that waited its longest for a password check
// slot: every slot stayed busy, and one more argon2id verification could
// take the sidecar past its memory limit.
var errLoginBusy = &api.Error{Code: api.CodeLoginBusy,
	Message: "Too many logins are being checked at once; try again in a moment.", RetryAfter: time.Second}

// PasswordChecks bounds the argon2id verifications running at once: each
// allocates its memory cost (19 MiB with the default parameters) for the
// time it runs, so the number of slots, not the number of logins, decides
// how much memory logins take. A login that finds every slot busy waits at
// most MaxWait (or until its client goes), then is answered 503 LOGIN_BUSY.
//
// After a burst it returns the checks' memory to the OS: once no check has
// run for IdleAfter it calls debug.FreeOSMemory, at most once every
// FreeEvery. The Go runtime alone would keep the heap it grew for the burst
// until its next collection, which an idle sidecar may not run for minutes
// (docs/performance.md, "Memory after a burst of logins").
type PasswordChecks struct {
	slots   chan struct{}
	maxWait time.Duration
	waiting atomic.Int64

	idleAfter, freeEvery time.Duration
	free                 func() // debug.FreeOSMemory; replaced in tests
	now                  func() time.Time

	mu       sync.Mutex
	timer    *time.Timer
	dirty    bool // a check ran since memory was last returned
	lastFree time.Time
	frees    atomic.Int64
}

// PasswordCheckOptions configure NewPasswordChecks.
type PasswordCheckOptions struct {
	// Slots is how many checks may run at once (at least 1).
	Slots int
	// MaxWait is the longest a login waits for a slot; 0 refuses at once.
	MaxWait time.Duration
	// IdleAfter is how long no check must run before the checks' memory is
	// returned to the OS; 0 never returns it explicitly.
	IdleAfter time.Duration
	// FreeEvery is the least time between two returns (default 10 s).
	FreeEvery time.Duration
}

// NewPasswordChecks makes the slots.
func NewPasswordChecks(o PasswordCheckOptions) *PasswordChecks {
	if o.FreeEvery <= 0 {
		o.FreeEvery = 10 * time.Second
	}
	return &PasswordChecks{
		slots: make(chan struct{}, max(1, o.Slots)), maxWait: max(0, o.MaxWait),
		idleAfter: o.IdleAfter, freeEvery: o.FreeEvery, free: debug.FreeOSMemory, now: time.Now,
	}
}

// Slots is how many checks may run at once.
func (p *PasswordChecks) Slots() int { return cap(p.slots) }

// acquire takes a slot, waiting at most maxWait or until ctx ends. It
// returns errLoginBusy when none came in time, ctx's deadline included, and
// nil with ok false when ctx was cancelled first (the client left: there is
// no one to answer).
func (p *PasswordChecks) acquire(ctx context.Context) (ok bool, busy *api.Error) {
	select {
	case p.slots <- struct{}{}:
		return true, nil
	default:
	}
	if p.maxWait <= 0 {
		return false, errLoginBusy
	}
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	t := time.NewTimer(p.maxWait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return true, nil
	case <-t.C:
		return false, errLoginBusy
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false, errLoginBusy
		}
		return false, nil
	}
}

// release gives a slot back; the last one of a burst arms the return of
// memory.
func (p *PasswordChecks) release() {
	<-p.slots
	if p.idleAfter <= 0 || len(p.slots) > 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirty = true
	if p.timer == nil {
		p.timer = time.AfterFunc(p.idleAfter, p.idle)
	} else {
		p.timer.Reset(p.idleAfter)
	}
}

// idle returns the memory of the checks that ran, unless one runs now (its
// release arms this again) or memory was returned less than freeEvery ago
// (then it tries again when that has passed).
func (p *PasswordChecks) idle() {
	p.mu.Lock()
	if len(p.slots) > 0 || !p.dirty {
		p.mu.Unlock()
		return
	}
	now := p.now()
	if wait := p.lastFree.Add(p.freeEvery).Sub(now); !p.lastFree.IsZero() && wait > 0 {
		p.timer.Reset(wait)
		p.mu.Unlock()
		return
	}
	p.dirty, p.lastFree = false, now
	p.mu.Unlock()
	p.free()
	p.frees.Add(1)
}

// register adds the checks' gauges to reg.
func (p *PasswordChecks) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jack_sidecar_password_check_slots", Help: "Password checks (argon2id, 19 MiB each) that may run at once (--max-concurrent-password-checks, or derived from the memory limit).",
		}, func() float64 { return float64(p.Slots()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jack_sidecar_password_checks_running", Help: "Password checks running now.",
		}, func() float64 { return float64(len(p.slots)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jack_sidecar_password_checks_waiting", Help: "Logins waiting for a password check slot now; past --password-check-wait they are answered 503 LOGIN_BUSY.",
		}, func() float64 { return float64(p.waiting.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "jack_sidecar_memory_returned_total", Help: "Times the sidecar returned the memory of a burst of password checks to the OS (debug.FreeOSMemory).",
		}, func() float64 { return float64(p.frees.Load()) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
