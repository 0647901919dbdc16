package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jack-io/jack-operator/hack/internal/proc"
)

// stat is what the ordinary clients of one kind saw.
type stat struct {
	mu       sync.Mutex
	sent, ok int
	latency  []time.Duration // of every request sent, answered or not
	failures map[string]int  // by status or error
}

func (s *stat) record(d time.Duration, failure string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent++
	s.latency = append(s.latency, d)
	if failure == "" {
		s.ok++
		return
	}
	if s.failures == nil {
		s.failures = map[string]int{}
	}
	s.failures[failure]++
}

func (s *stat) rate() float64 {
	if s.sent == 0 {
		return 0
	}
	return 100 * float64(s.ok) / float64(s.sent)
}

func (s *stat) quantile(q float64) time.Duration {
	if len(s.latency) == 0 {
		return 0
	}
	l := slices.Clone(s.latency)
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

func (s *stat) failureText() string {
	var parts []string
	for k, n := range s.failures {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

type result struct {
	auth, login  *stat
	cpu, elapsed time.Duration
}

// measure sends the ordinary clients' requests at a fixed rate for d and
// returns what they saw and the sidecar's CPU meanwhile.
func measure(ctx context.Context, phase string, c config, addr, tok string, pid int, d time.Duration) result {
	r := result{auth: &stat{}, login: &stat{}}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	authClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, DisableCompression: true}}
	defer authClient.CloseIdleConnections()

	cpu0, _ := proc.CPUTime(pid)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		pace(ctx, c.authRate, 256, r.auth, func(int) string { return authCall(authClient, addr, tok) })
	})
	wg.Go(func() {
		pace(ctx, c.loginRate, 32, r.login, func(i int) string { return login(addr, i) })
	})
	wg.Wait()
	cpu1, _ := proc.CPUTime(pid)
	r.cpu, r.elapsed = cpu1-cpu0, time.Since(start)
	for _, s := range []struct {
		name string
		st   *stat
	}{{"/auth", r.auth}, {"logins", r.login}} {
		if len(s.st.failures) > 0 {
			fmt.Printf("%s: %s failures: %s\n", phase, s.name, s.st.failureText())
		}
	}
	return r
}

// pace calls call rate times a second until ctx ends, at most inFlight at
// once (a call that finds no room fails as "backlog"), then waits for the
// calls in flight.
func pace(ctx context.Context, rate, inFlight int, s *stat, call func(i int) string) {
	if rate <= 0 {
		return
	}
	slots := make(chan struct{}, inFlight)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		next := start.Add(time.Duration(i) * interval)
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-time.After(time.Until(next)):
		}
		select {
		case slots <- struct{}{}:
		default:
			s.record(0, "backlog")
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			t := time.Now()
			failure := call(i)
			s.record(time.Since(t), failure)
		})
	}
}

// authCall asks /auth about a request with a valid token, as a gateway does.
func authCall(client *http.Client, addr, tok string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/auth", nil)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", "/api/v1/tasks/42")
	req.Header.Set("Authorization", "Bearer "+tok)
	return do(client, req)
}

// login logs a user in on a new connection from its own address,
// 127.0.1.1 to 127.0.1.250 in turn, as distinct people would.
func login(addr string, i int) string {
	src := net.IPv4(127, 0, 1, byte(1+i%250))
	tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	body := fmt.Sprintf(`{"email":"user%d@example.com","password":%q}`, i%users200, loadPassword)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/auth/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return do(client, req)
}

var errorsShown atomic.Int32

func do(client *http.Client, req *http.Request) string {
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		if errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset") {
			return "closed"
		}
		if errorsShown.Add(1) <= 5 {
			fmt.Fprintln(os.Stderr, "slowflood: an ordinary request failed:", err)
		}
		return "error"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprint(resp.StatusCode)
	}
	return ""
}
