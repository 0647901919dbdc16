package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// flood holds slow connections open, opening a new one whenever the
// sidecar closes one, until its context ends.
type flood struct {
	held atomic.Int64
	wg   sync.WaitGroup

	mu                                  sync.Mutex
	since                               map[int]time.Time // open connections, by worker
	dials, dialErrors                   int
	refused429, refused503, refusedBare int
	cut                                 int
	answered                            map[int]int
	endedAfter                          []time.Duration // how long the sidecar held the connections it ended
	heldSum, heldSamples, maxHeld       int64
}

type floodSnapshot struct {
	dials, dialErrors, refused429, refused503, refusedBare, cut int
	answered                                                    map[int]int
	cutMedian, cutMax, oldest                                   time.Duration
	avgHeld, maxHeld, heldNow                                   int64
}

func (s floodSnapshot) answeredText() string {
	if len(s.answered) == 0 {
		return "none"
	}
	var parts []string
	for status, n := range s.answered {
		parts = append(parts, fmt.Sprintf("%d ×%d", status, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

const (
	slowBodyHead   = "POST /api/v1/auth/login HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
	slowHeaderHead = "GET /auth HTTP/1.1\r\nHost: sidecar\r\nX-Original-Method: GET\r\nX-Slow: "
)

func startFlood(ctx context.Context, c config, addr string) *flood {
	f := &flood{since: map[int]time.Time{}, answered: map[int]int{}}
	total := c.slowBody + c.slowHeader + c.greedy
	stagger := 2 * time.Second / time.Duration(max(total, 1))
	id := 0
	start := func(src net.IP, head string) {
		i, delay := id, time.Duration(id)*stagger
		id++
		f.wg.Go(func() { f.worker(ctx, i, delay, src, addr, head, c.trickle) })
	}
	for i := range c.slowBody {
		start(net.IPv4(127, 0, 0, byte(2+i%c.floodClients)), slowBodyHead)
	}
	for i := range c.slowHeader {
		start(net.IPv4(127, 0, 0, byte(2+i%c.floodClients)), slowHeaderHead)
	}
	for range c.greedy {
		start(net.IPv4(127, 0, 2, 1), slowBodyHead)
	}
	f.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n := f.held.Load()
				f.mu.Lock()
				f.heldSum, f.heldSamples, f.maxHeld = f.heldSum+n, f.heldSamples+1, max(f.maxHeld, n)
				f.mu.Unlock()
			}
		}
	})
	return f
}

// mark starts counting afresh: the snapshot covers what follows.
func (f *flood) mark() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dials, f.dialErrors, f.refused429, f.refused503, f.refusedBare, f.cut = 0, 0, 0, 0, 0, 0
	f.answered, f.endedAfter = map[int]int{}, nil
	f.heldSum, f.heldSamples, f.maxHeld = 0, 0, 0
}

func (f *flood) snapshot() floodSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := floodSnapshot{dials: f.dials, dialErrors: f.dialErrors, refused429: f.refused429, refused503: f.refused503,
		refusedBare: f.refusedBare, cut: f.cut, answered: f.answered, maxHeld: f.maxHeld, heldNow: f.held.Load()}
	if f.heldSamples > 0 {
		s.avgHeld = f.heldSum / f.heldSamples
	}
	if len(f.endedAfter) > 0 {
		e := slices.Clone(f.endedAfter)
		slices.Sort(e)
		s.cutMedian, s.cutMax = e[len(e)/2], e[len(e)-1]
	}
	for _, t := range f.since {
		s.oldest = max(s.oldest, time.Since(t))
	}
	return s
}

func (f *flood) wait() { f.wg.Wait() }

// worker keeps one slow connection open: it sends head, then a byte every
// trickle, and when the sidecar ends the connection, records how and
// opens another.
func (f *flood) worker(ctx context.Context, id int, delay time.Duration, src net.IP, addr, head string, trickle time.Duration) {
	if !sleep(ctx, delay) {
		return
	}
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
	for ctx.Err() == nil {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		f.mu.Lock()
		f.dials++
		if err != nil && ctx.Err() == nil {
			f.dialErrors++
		}
		f.mu.Unlock()
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		pause := f.hold(ctx, id, conn, head, trickle)
		sleep(ctx, pause)
	}
}

// hold sends on conn until the sidecar ends it or ctx ends, records the
// outcome and returns how long to wait before the next dial.
func (f *flood) hold(ctx context.Context, id int, conn net.Conn, head string, trickle time.Duration) time.Duration {
	defer func() { _ = conn.Close() }()
	start := time.Now()
	f.held.Add(1)
	f.mu.Lock()
	f.since[id] = start
	f.mu.Unlock()
	defer func() {
		f.held.Add(-1)
		f.mu.Lock()
		delete(f.since, id)
		f.mu.Unlock()
	}()

	status := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			status <- answer{}
			return
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		// The connection bounds' refusals speak of connections; a
		// handler's 429 (requests in flight) does not.
		status <- answer{code: resp.StatusCode, connections: strings.Contains(string(body), "connections")}
	}()
	_, _ = io.WriteString(conn, head)
	t := time.NewTicker(trickle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0
		case a := <-status:
			return f.ended(a, time.Since(start))
		case <-t.C:
			if _, err := io.WriteString(conn, " "); err != nil {
				select {
				case a := <-status:
					return f.ended(a, time.Since(start))
				case <-time.After(time.Second):
					return f.ended(answer{}, time.Since(start))
				}
			}
		}
	}
}

// answer is how the sidecar ended a connection: the status of its answer
// (0 for a close without one), and whether it is a connection bound's.
type answer struct {
	code        int
	connections bool
}

// ended records how the sidecar ended a connection after held.
func (f *flood) ended(a answer, held time.Duration) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case a.connections && a.code == http.StatusTooManyRequests:
		f.refused429++
	case a.connections && a.code == http.StatusServiceUnavailable:
		f.refused503++
	case a.code == 0 && held < 500*time.Millisecond:
		f.refusedBare++
	default:
		if a.code == 0 {
			f.cut++
		} else {
			f.answered[a.code]++
		}
		f.endedAfter = append(f.endedAfter, held)
		return 100 * time.Millisecond
	}
	// A refused client backs off, as a real one would.
	return time.Second
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
