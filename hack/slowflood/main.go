// Command slowflood measures how the sidecar serves ordinary clients while
// slow and greedy ones hold connections to it: thousands of connections
// that send their headers and then a body one byte every few seconds, others
// that never finish their headers, and one client that opens more
// connections than its share. It prints, before and during the flood, the
// success rate and latency of logins and /auth calls from other clients,
// the sidecar's CPU and memory, and what became of the flood's connections.
//
//	go build -o bin/jack-auth ./sidecar && go run ./hack/slowflood -sidecar bin/jack-auth
//
// (make load-flood does both.) It stops by itself after -baseline plus
// -duration and a few seconds. The flood comes from distinct loopback
// addresses (127.0.0.2 and up), the ordinary logins from others (127.0.1.x),
// so that per-client bounds and throttles see distinct clients, as they
// would in a cluster; the /auth calls come from 127.0.0.1, as a gateway's.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jack-io/jack-operator/hack/internal/loadfixture"
	"github.com/jack-io/jack-operator/hack/internal/proc"
)

type config struct {
	sidecar      string
	sidecarArgs  []string
	sidecarEnv   []string
	baseline     time.Duration
	duration     time.Duration
	slowBody     int
	slowHeader   int
	greedy       int
	floodClients int
	trickle      time.Duration
	authRate     int
	loginRate    int
}

func main() {
	var c config
	var args string
	flag.StringVar(&c.sidecar, "sidecar", "bin/jack-auth", "The sidecar binary.")
	flag.StringVar(&args, "sidecar-args", "", "More flags for the sidecar, space-separated (e.g. \"--max-connections 1000\").")
	env := flag.String("sidecar-env", "", "Environment variables for the sidecar, space-separated (e.g. GOMEMLIMIT=100MiB).")
	flag.DurationVar(&c.baseline, "baseline", 10*time.Second, "How long ordinary clients are measured before the flood.")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "How long they are measured while the flood is held.")
	flag.IntVar(&c.slowBody, "slow-body", 2000, "Connections that send headers with Content-Length: 4096, then one body byte every -trickle.")
	flag.IntVar(&c.slowHeader, "slow-header", 200, "Connections that send a request line, then one header byte every -trickle.")
	flag.IntVar(&c.greedy, "greedy", 400, "Slow-body connections from one client address, on top of the others.")
	flag.IntVar(&c.floodClients, "flood-clients", 20, "Loopback addresses the slow connections come from (127.0.0.2 and up).")
	flag.DurationVar(&c.trickle, "trickle", 3*time.Second, "The pause between two bytes of a slow connection.")
	flag.IntVar(&c.authRate, "auth-rate", 300, "/auth calls a second from ordinary clients, with a valid token, on keep-alive connections.")
	flag.IntVar(&c.loginRate, "login-rate", 4, "Logins a second from ordinary clients, each on a new connection from its own address.")
	flag.Parse()
	c.sidecarArgs, c.sidecarEnv = strings.Fields(args), strings.Fields(*env)
	if c.floodClients < 1 || c.floodClients > 250 {
		fmt.Fprintln(os.Stderr, "slowflood: -flood-clients must be 1 to 250")
		os.Exit(2)
	}
	// However the run goes, the process ends: nothing here may outlive it.
	limit := c.baseline + c.duration + 60*time.Second
	time.AfterFunc(limit, func() {
		fmt.Fprintf(os.Stderr, "slowflood: still running after %s; giving up\n", limit)
		os.Exit(3)
	})
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "slowflood:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	dir, err := os.MkdirTemp("", "slowflood")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if _, err := loadfixture.Write(dir, users200); err != nil {
		return err
	}
	side, addr, metricsAddr, err := startSidecar(c, dir)
	if err != nil {
		return err
	}
	defer func() { _ = side.Process.Kill(); _ = side.Wait() }()
	pid := side.Process.Pid
	time.Sleep(500 * time.Millisecond) // let the sidecar load its files
	tok, err := loadfixture.Login("http://"+addr, users200/2)
	if err != nil {
		return err
	}

	fmt.Printf("sidecar %s %s %s; flood: %d slow-body + %d slow-header connections from %d addresses, a greedy client with %d, one byte every %s; "+
		"ordinary clients: %d /auth calls/s (keep-alive, 127.0.0.1), %d logins/s (new connection each, 127.0.1.x)\n",
		strings.Join(c.sidecarEnv, " "), c.sidecar, strings.Join(c.sidecarArgs, " "), c.slowBody, c.slowHeader, c.floodClients, c.greedy, c.trickle, c.authRate, c.loginRate)

	base := measure(context.Background(), "baseline", c, addr, tok, pid, c.baseline)
	baseRSS, _ := proc.Memory(pid)

	ctx, stop := context.WithCancel(context.Background())
	f := startFlood(ctx, c, addr)
	// Let the flood connect before measuring.
	ramp := time.Now().Add(10 * time.Second)
	for f.held.Load() < int64(min(c.slowBody+c.slowHeader, 1000)) && time.Now().Before(ramp) {
		time.Sleep(100 * time.Millisecond)
	}
	f.mark()
	flooded := measure(ctx, "flood held", c, addr, tok, pid, c.duration)
	snap := f.snapshot()
	scraped := proc.Scrape(metricsAddr, "jack_sidecar_connections_", "jack_sidecar_requests_total", "jack_sidecar_throttled_total")
	rss, peak := proc.Memory(pid)
	stop()
	f.wait()

	fmt.Printf("\n%-12s %10s %9s %9s %10s %9s %9s %9s %12s\n", "phase", "/auth ok", "p50", "p99", "logins ok", "p50", "p99", "CPU", "CPU/request")
	for _, r := range []struct {
		name string
		m    result
	}{{"baseline", base}, {"flood held", flooded}} {
		m := r.m
		fmt.Printf("%-12s %9.2f%% %9s %9s %9.2f%% %9s %9s %8.0f%% %10.0fµs\n", r.name,
			m.auth.rate(), ms(m.auth.quantile(0.5)), ms(m.auth.quantile(0.99)),
			m.login.rate(), ms(m.login.quantile(0.5)), ms(m.login.quantile(0.99)),
			100*m.cpu.Seconds()/m.elapsed.Seconds(), float64(m.cpu.Microseconds())/float64(max(1, m.auth.ok+m.login.ok)))
	}
	fmt.Printf("(/auth: %d and %d sent; logins: %d and %d sent; CPU is the sidecar's, in %% of one core, and per ordinary request answered)\n",
		base.auth.sent, flooded.auth.sent, base.login.sent, flooded.login.sent)
	fmt.Printf("\nflood while measured: %d connections held on average, %d at most; %d dials in all\n", snap.avgHeld, snap.maxHeld, snap.dials)
	fmt.Printf("  refused at once: %d with 429, %d with 503, %d closed without an answer\n", snap.refused429, snap.refused503, snap.refusedBare)
	fmt.Printf("  cut by the sidecar after holding: %d (median held %s, longest %s); answered with another status: %s; dial errors: %d\n",
		snap.cut, snap.cutMedian.Round(100*time.Millisecond), snap.cutMax.Round(100*time.Millisecond), snap.answeredText(), snap.dialErrors)
	fmt.Printf("  still held at the end: %d, for up to %s\n", snap.heldNow, snap.oldest.Round(time.Second))
	fmt.Printf("sidecar memory: RSS %s after the baseline, %s at the end of the flood, peak %s\n", baseRSS, rss, peak)
	fmt.Printf("the flood cost the sidecar %+.0f%% of a core\n", 100*(flooded.cpu.Seconds()/flooded.elapsed.Seconds()-base.cpu.Seconds()/base.elapsed.Seconds()))
	if scraped != "" {
		fmt.Printf("sidecar metrics:\n%s", scraped)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func startSidecar(c config, dir string) (*exec.Cmd, string, string, error) {
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--keys", filepath.Join(dir, "keyring.json"), "--users", filepath.Join(dir, "users.json.gz"),
		"--revocations", filepath.Join(dir, "revoked.jsonl")}, c.sidecarArgs...)
	cmd := exec.Command(c.sidecar, args...)
	cmd.Env = append(os.Environ(), c.sidecarEnv...)
	r, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", "", err
	}
	type serving struct{ Msg, Listen, Metrics string }
	found := make(chan serving, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var l serving
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving" {
				found <- l
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case l := <-found:
		return cmd, l.Listen, l.Metrics, nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", "", fmt.Errorf("%s did not say where it listens", c.sidecar)
	}
}

const (
	loadPassword = loadfixture.Password
	users200     = 200
)
