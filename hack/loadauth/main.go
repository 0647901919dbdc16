// Command loadauth measures the sidecar's forward-auth endpoint under load
// beside a bare net/http handler, in the same run on the same machine, and
// prints requests per second for each and their ratio.
//
//	go build -o bin/jack-auth ./sidecar && go run ./hack/loadauth -sidecar bin/jack-auth
//
// (make load-auth does both.) The bare handler gets the same requests,
// token included, and answers 200 with the same identity headers and no work,
// so the ratio is what verification costs.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/hack/internal/loadfixture"
	"github.com/jack-io/jack-operator/hack/internal/proc"
)

func main() {
	sidecar := flag.String("sidecar", "bin/jack-auth", "The sidecar binary.")
	duration := flag.Duration("duration", 5*time.Second, "How long each measurement runs.")
	generator := flag.String("load", "go", "The load generator: go (built in) or wrk (Debian's wrk, a C load generator that costs the machine less per request).")
	bare := flag.Bool("bare", false, "Serve the bare handler (used by the measurement itself).")
	flag.Parse()
	if *bare {
		serveBare()
		return
	}
	switch *generator {
	case "go":
	case "wrk":
		if _, err := exec.LookPath("wrk"); err != nil {
			fmt.Fprintln(os.Stderr, "loadauth: -load wrk needs wrk on the PATH (apt-get install wrk)")
			os.Exit(1)
		}
		load, generatorName = loadWrk, "wrk"
	default:
		fmt.Fprintf(os.Stderr, "loadauth: -load %q: want go or wrk\n", *generator)
		os.Exit(2)
	}
	if err := run(*sidecar, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "loadauth:", err)
		os.Exit(1)
	}
}

// serveBare is the baseline: the cheapest handler that answers like /auth.
func serveBare() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr().String())
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set(jack.HeaderUserID, "staff-500")
		h.Set(jack.HeaderUserEmail, "user500@example.com")
		h.Set(jack.HeaderUserRole, "staff")
		h.Set(jack.HeaderAuthRequestUser, "staff-500")
		h.Set(jack.HeaderAuthRequestEmail, "user500@example.com")
		w.WriteHeader(http.StatusOK)
	}))
}

func run(sidecar string, d time.Duration) error {
	dir, err := os.MkdirTemp("", "loadauth")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if _, err := loadfixture.Write(dir, loadUsers); err != nil {
		return err
	}

	side := exec.Command(sidecar, "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--keys", filepath.Join(dir, "keyring.json"), "--users", filepath.Join(dir, "users.json.gz"))
	sideAddr, err := startAndRead(side, func(line string) (string, bool) {
		var l struct{ Msg, Listen string }
		return l.Listen, json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving"
	}, true)
	if err != nil {
		return fmt.Errorf("starting the sidecar: %w", err)
	}
	defer func() { _ = side.Process.Kill(); _ = side.Wait() }()
	tok, err := loadfixture.Login("http://"+sideAddr, loadUsers/2)
	if err != nil {
		return err
	}

	self, _ := os.Executable()
	bare := exec.Command(self, "-bare")
	bareAddr, err := startAndRead(bare, func(line string) (string, bool) { return line, true }, false)
	if err != nil {
		return fmt.Errorf("starting the bare handler: %w", err)
	}
	defer func() { _ = bare.Process.Kill(); _ = bare.Wait() }()

	time.Sleep(500 * time.Millisecond) // let the sidecar load its files
	fmt.Printf("GET /auth with a valid HS256 token, 1,000 users; median of 3 alternating runs of %s; the load generator (%s) shares the machine\n", d, generatorName)
	fmt.Printf("%-12s %14s %14s %8s %16s %16s\n", "connections", "bare req/s", "sidecar req/s", "ratio", "bare CPU µs/req", "sidecar CPU µs/req")
	// Warm both up, then alternate them three times and keep the medians,
	// so that neither gains from running while the machine is quieter.
	_, _ = load("http://"+bareAddr+"/auth", tok, 8, time.Second)
	_, _ = load("http://"+sideAddr+"/auth", tok, 8, time.Second)
	for _, conns := range []int{8, 64} {
		var bs, ss, bc, sc []float64
		for range 3 {
			b, bcpu, err := measure(bare.Process.Pid, "http://"+bareAddr+"/auth", tok, conns, d)
			if err != nil {
				return err
			}
			s, scpu, err := measure(side.Process.Pid, "http://"+sideAddr+"/auth", tok, conns, d)
			if err != nil {
				return err
			}
			bs, ss, bc, sc = append(bs, b), append(ss, s), append(bc, bcpu), append(sc, scpu)
		}
		b, s := median(bs), median(ss)
		fmt.Printf("%-12d %14.0f %14.0f %8.2f %16.1f %16.1f\n", conns, b, s, s/b, median(bc), median(sc))
	}
	rss, peak := proc.Memory(side.Process.Pid)
	fmt.Printf("sidecar memory with 1,000 users after the load: RSS %s, peak %s\n", rss, peak)
	return nil
}

// measure loads url and reports the rate and the server's CPU time per
// request (user and system, from /proc/PID/stat), which moves much less
// between runs on a shared machine than the rate does.
func measure(pid int, url, tok string, conns int, d time.Duration) (rate, cpuMicros float64, err error) {
	before, err := proc.CPUTime(pid)
	if err != nil {
		return 0, 0, err
	}
	rate, err = load(url, tok, conns, d)
	if err != nil {
		return 0, 0, err
	}
	after, err := proc.CPUTime(pid)
	if err != nil {
		return 0, 0, err
	}
	requests := rate * d.Seconds()
	if requests == 0 {
		return rate, 0, nil
	}
	return rate, float64((after - before).Microseconds()) / requests, nil
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func startAndRead(cmd *exec.Cmd, match func(string) (string, bool), stderr bool) (string, error) {
	var r io.ReadCloser
	var err error
	if stderr {
		r, err = cmd.StderrPipe()
	} else {
		r, err = cmd.StdoutPipe()
	}
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if v, ok := match(sc.Text()); ok {
				found <- v
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case v := <-found:
		return v, nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("%s did not say where it listens", cmd.Path)
	}
}

// load sends requests from conns keep-alive connections for d and returns
// the rate of 200 answers; any other answer is an error.
// load is the load generator in use: loadGo unless -load says otherwise.
var (
	load          = loadGo
	generatorName = "go"
)

// loadWrk runs wrk (one thread) with conns connections for d and parses its
// requests per second. A non-2xx answer fails the measurement, as in loadGo.
func loadWrk(url, tok string, conns int, d time.Duration) (float64, error) {
	args := []string{"-t1", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", max(1, int(d.Seconds()))),
		"-H", "X-Original-Method: GET", "-H", "X-Original-URI: /api/v1/tasks/42"}
	if tok != "" {
		args = append(args, "-H", "Authorization: Bearer "+tok)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	var rps float64
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "Non-2xx or 3xx responses:") {
			return 0, fmt.Errorf("wrk saw refusals from %s: %s", url, line)
		}
		if v, ok := strings.CutPrefix(line, "Requests/sec:"); ok {
			if _, err := fmt.Sscan(strings.TrimSpace(v), &rps); err != nil {
				return 0, fmt.Errorf("wrk's Requests/sec %q: %w", v, err)
			}
		}
	}
	if rps == 0 {
		return 0, fmt.Errorf("wrk printed no Requests/sec:\n%s", out)
	}
	return rps, nil
}

func loadGo(url, tok string, conns int, d time.Duration) (float64, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var ok atomic.Int64
	var failed atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("X-Original-Method", "GET")
			req.Header.Set("X-Original-URI", "/api/v1/tasks/42")
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			for time.Now().Before(deadline) {
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Store(fmt.Sprintf("status %d from %s", resp.StatusCode, url))
					return
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		return 0, fmt.Errorf("%v", f)
	}
	return float64(ok.Load()) / time.Since(start).Seconds(), nil
}

// loadUsers is how many users the sidecar's directory holds.
const loadUsers = 1000
