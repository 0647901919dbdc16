// Command loginburst measures the sidecar's memory: idle with a directory of
// 1,000 and of 10,000 users, then during and after a burst of logins (200
// by default, 16 in flight), each an argon2id check of 19 MiB. It prints
// VmRSS and VmHWM from /proc, VmRSS sampled every 50 ms during the burst,
// and VmRSS from 1 to 30 seconds after it.
//
//	go build -o bin/jack-auth ./sidecar && go run ./hack/loginburst -sidecar bin/jack-auth
//
// (make load-logins does both.) With -memory-limit (root) the sidecar runs
// in a memory cgroup of its own with that limit, as in a pod, and sizes its
// password checks from it; -gomemlimit auto then sets GOMEMLIMIT as the
// injector does. The logins come from distinct loopback addresses
// (127.0.1.x), as distinct people's would, so the per-client throttle sees
// each once.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/jack-io/jack-operator/hack/internal/loadfixture"
	"github.com/jack-io/jack-operator/hack/internal/proc"
)

type config struct {
	sidecar     string
	sidecarArgs []string
	idleUsers   []int
	burstUsers  int
	logins      int
	inFlight    int
	after       time.Duration
	memoryLimit int64
	goMemLimit  string
}

func main() {
	var c config
	var args, users, limit string
	flag.StringVar(&c.sidecar, "sidecar", "bin/jack-auth", "The sidecar binary.")
	flag.StringVar(&args, "sidecar-args", "", "More flags for the sidecar, space-separated (e.g. \"--return-memory-after=0\").")
	flag.StringVar(&users, "idle-users", "1000,10000", "Directory sizes to measure idle RSS with, comma-separated; empty for none.")
	flag.IntVar(&c.burstUsers, "burst-users", 1000, "Users in the directory during the burst.")
	flag.IntVar(&c.logins, "logins", 200, "Logins in the burst (each costs 50-100 ms of CPU: keep it small on a shared machine).")
	flag.IntVar(&c.inFlight, "in-flight", 16, "Logins sent at once.")
	flag.DurationVar(&c.after, "after", 30*time.Second, "How long RSS is followed after the burst.")
	flag.StringVar(&limit, "memory-limit", "", "Run the sidecar in a memory cgroup with this limit (e.g. 128Mi; needs root), as a pod's container.")
	flag.StringVar(&c.goMemLimit, "gomemlimit", "", "GOMEMLIMIT for the sidecar: a value, or auto for nine tenths of -memory-limit (what the injector sets); empty leaves it unset.")
	flag.Parse()
	c.sidecarArgs = strings.Fields(args)
	for _, u := range strings.Split(users, ",") {
		if strings.TrimSpace(u) == "" {
			continue // -idle-users "" skips the idle measurements
		}
		n, err := strconv.Atoi(strings.TrimSpace(u))
		if err != nil || n < 1 {
			fail(fmt.Errorf("-idle-users %q: want positive numbers, comma-separated", users))
		}
		c.idleUsers = append(c.idleUsers, n)
	}
	if limit != "" {
		q, err := resource.ParseQuantity(limit)
		if err != nil || q.Value() < 16<<20 {
			fail(fmt.Errorf("-memory-limit %q: want a quantity of at least 16Mi, such as 128Mi", limit))
		}
		c.memoryLimit = q.Value()
	}
	if c.goMemLimit == "auto" {
		if c.memoryLimit == 0 {
			fail(errors.New("-gomemlimit auto needs -memory-limit"))
		}
		c.goMemLimit = strconv.FormatInt(c.memoryLimit/10*9, 10)
	}
	if c.logins < 1 || c.inFlight < 1 || c.logins > 250 {
		fail(errors.New("-logins must be 1 to 250 (one per source address) and -in-flight at least 1"))
	}
	// Interrupted (or its output closed), it stops the sidecar and removes
	// its cgroup before it exits.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	go func() {
		<-sigs
		if s := running.Load(); s != nil {
			s.stop()
		}
		os.Exit(1)
	}()
	if err := run(c); err != nil {
		fail(err)
	}
}

// running is the sidecar being measured, for the signal handler.
var running atomic.Pointer[sidecar]

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loginburst:", err)
	os.Exit(1)
}

func run(c config) error {
	fmt.Printf("sidecar %s %s", c.sidecar, strings.Join(c.sidecarArgs, " "))
	if c.memoryLimit > 0 {
		fmt.Printf("; memory cgroup limit %d MiB", c.memoryLimit>>20)
	}
	if c.goMemLimit != "" {
		fmt.Printf("; GOMEMLIMIT=%s", c.goMemLimit)
	}
	fmt.Println()
	for _, n := range c.idleUsers {
		s, err := start(c, n)
		if err != nil {
			return err
		}
		time.Sleep(2 * time.Second) // let it settle after loading the directory
		rss, hwm := memory(s.cmd.Process.Pid)
		fmt.Printf("idle, %6d users: VmRSS %5.1f MB, VmHWM %5.1f MB (password check slots: %s)\n", n, rss, hwm, s.slots)
		s.stop()
	}

	s, err := start(c, c.burstUsers)
	if err != nil {
		return err
	}
	defer s.stop()
	time.Sleep(2 * time.Second)
	pid := s.cmd.Process.Pid
	rss0, _ := memory(pid)
	cpu0, _ := proc.CPUTime(pid)
	fmt.Printf("burst: %d logins, %d in flight, %d users, %s password check slots; VmRSS before %.1f MB\n", c.logins, c.inFlight, c.burstUsers, s.slots, rss0)

	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _ := memory(pid); int64(rss*1000) > peak.Load() {
				peak.Store(int64(rss * 1000))
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	began := time.Now()
	res := burst(s.addr, c)
	took := time.Since(began)
	close(done)
	<-sampled
	cpu1, _ := proc.CPUTime(pid)
	_, hwm := memory(pid)
	fmt.Printf("  answered in %s: %s; latency p50 %s, p99 %s, max %s; sidecar CPU %s (%.0f ms a login)\n",
		took.Round(10*time.Millisecond), res.outcomes(), res.quantile(0.5), res.quantile(0.99), res.quantile(1),
		(cpu1 - cpu0).Round(10*time.Millisecond), float64((cpu1-cpu0).Milliseconds())/float64(c.logins))
	fmt.Printf("  during: VmRSS sampled every 50 ms, highest %.1f MB; VmHWM %.1f MB\n", float64(peak.Load())/1000, hwm)

	fmt.Printf("  after:")
	for _, at := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second} {
		if at > c.after {
			break
		}
		time.Sleep(time.Until(began.Add(took + at)))
		if s.exited() {
			fmt.Printf(" (the sidecar exited: %v)", s.cmd.ProcessState)
			break
		}
		rss, _ := memory(pid)
		fmt.Printf(" %s %.1f MB,", at, rss)
	}
	fmt.Println()
	fmt.Print(proc.Scrape(s.metrics, "jack_sidecar_password_check", "jack_sidecar_memory_returned", "jack_sidecar_logins_total", "go_memstats_heap_inuse_bytes", "go_memstats_heap_released_bytes"))
	if s.cgroup != nil {
		fmt.Printf("  cgroup: %s\n", s.cgroup.report())
	}
	return nil
}

// memory is VmRSS and VmHWM in MB (10^6 bytes, as the figures).
func memory(pid int) (rss, hwm float64) {
	r, h := proc.Memory(pid)
	return kB(r), kB(h)
}

func kB(s string) float64 {
	n, _ := strconv.ParseFloat(strings.TrimSuffix(s, " kB"), 64)
	return n * 1024 / 1e6
}

type results struct {
	mu        sync.Mutex
	latencies []time.Duration
	outcome   map[string]int
}

func (r *results) outcomes() string {
	keys := make([]string, 0, len(r.outcome))
	for k := range r.outcome {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", r.outcome[k], k))
	}
	return strings.Join(parts, ", ")
}

func (r *results) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))].Round(time.Millisecond)
}

// burst sends c.logins logins, c.inFlight at a time, each from its own
// address and on its own connection.
func burst(addr string, c config) *results {
	res := &results{outcome: map[string]int{}}
	next := make(chan int)
	var wg sync.WaitGroup
	for range c.inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				out := login(addr, i, c.burstUsers)
				res.mu.Lock()
				res.latencies = append(res.latencies, time.Since(start))
				res.outcome[out]++
				res.mu.Unlock()
			}
		}()
	}
	for i := range c.logins {
		next <- i
	}
	close(next)
	wg.Wait()
	return res
}

// login logs user i in from 127.0.1.(1+i) and names the outcome: "200 OK"
// or the error code of the envelope.
func login(addr string, i, users int) string {
	src := net.IPv4(127, 0, 1, byte(1+i%250))
	tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Timeout: 60 * time.Second, Transport: tr}
	body, _ := json.Marshal(map[string]string{"email": loadfixture.Email(i % users), "password": loadfixture.Password})
	resp, err := client.Post("http://"+addr+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "transport errors"
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return "OK"
	}
	var env struct{ Error struct{ Code string } }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&env)
	return fmt.Sprintf("%d %s", resp.StatusCode, env.Error.Code)
}

// sidecar is a running sidecar.
type sidecar struct {
	cmd           *exec.Cmd
	addr, metrics string
	slots         string
	dir           string
	cgroup        *cgroup
	waited        chan struct{}
	once          sync.Once
}

func (s *sidecar) exited() bool {
	select {
	case <-s.waited:
		return true
	default:
		return false
	}
}

func (s *sidecar) stop() {
	s.once.Do(s.doStop)
}

func (s *sidecar) doStop() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
	}
	<-s.waited
	if s.cgroup != nil {
		s.cgroup.remove()
	}
	_ = os.RemoveAll(s.dir)
}

// start writes a directory of users and starts the sidecar on it, waiting
// until it is ready.
func start(c config, users int) (*sidecar, error) {
	dir, err := os.MkdirTemp("", "loginburst")
	if err != nil {
		return nil, err
	}
	files, err := loadfixture.Write(dir, users)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--keys", files.Keys, "--users", files.Users}, c.sidecarArgs...)
	s := &sidecar{dir: dir, waited: make(chan struct{})}
	cmd := exec.Command(c.sidecar, args...)
	if c.memoryLimit > 0 {
		if s.cgroup, err = newCgroup(c.memoryLimit); err != nil {
			return nil, err
		}
		// Join the cgroup before the sidecar starts, so it reads its
		// limit as a container's process would.
		cmd = exec.Command("/bin/sh", append([]string{"-c", `echo $$ > "$0" && exec "$@"`, s.cgroup.procs, c.sidecar}, args...)...)
	}
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tool
	if c.goMemLimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+c.goMemLimit)
	}
	r, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.cmd = cmd
	running.Store(s)
	go func() { _ = cmd.Wait(); close(s.waited) }()
	type line struct {
		Msg, Listen, Metrics string
		Slots                int
	}
	found := make(chan line, 1)
	go func() {
		sc := bufio.NewScanner(r)
		slots := 0
		for sc.Scan() {
			var l line
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			if l.Msg == "password checks bounded" {
				slots = l.Slots
			}
			if l.Msg == "serving" {
				l.Slots = slots
				found <- l
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case l := <-found:
		s.addr, s.metrics = l.Listen, l.Metrics
		s.slots = "?"
		if l.Slots > 0 {
			s.slots = strconv.Itoa(l.Slots)
		}
	case <-time.After(15 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not say where it listens", c.sidecar)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + s.metrics + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("the sidecar was not ready within 30s")
		}
	}
}

// cgroup is a memory cgroup of the sidecar's own, under the cgroup of this
// process (v1 memory controller, or v2 where the parent delegates memory).
type cgroup struct {
	dir, procs string
	v1         bool
}

func newCgroup(limit int64) (*cgroup, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("loginburst-%d-%d", os.Getpid(), time.Now().UnixNano())
	for _, l := range strings.Split(string(self), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var cg *cgroup
		switch {
		case strings.Contains(","+parts[1]+",", ",memory,"):
			cg = &cgroup{dir: filepath.Join("/sys/fs/cgroup/memory", parts[2], name), v1: true}
		case parts[0] == "0" && parts[1] == "":
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
				continue // v2 here has no memory controller (a hybrid host)
			}
			cg = &cgroup{dir: filepath.Join("/sys/fs/cgroup", parts[2], name)}
		default:
			continue
		}
		if err := os.Mkdir(cg.dir, 0o755); err != nil {
			return nil, fmt.Errorf("making a memory cgroup (-memory-limit needs root): %w", err)
		}
		file := "memory.max"
		if cg.v1 {
			file = "memory.limit_in_bytes"
		}
		if err := os.WriteFile(filepath.Join(cg.dir, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
			cg.remove()
			return nil, fmt.Errorf("setting the cgroup's memory limit: %w", err)
		}
		cg.procs = filepath.Join(cg.dir, "cgroup.procs")
		return cg, nil
	}
	return nil, errors.New("no memory cgroup found in /proc/self/cgroup")
}

// report is what the cgroup counted: its peak usage and OOM kills.
func (cg *cgroup) report() string {
	read := func(f string) string {
		b, _ := os.ReadFile(filepath.Join(cg.dir, f))
		return strings.TrimSpace(string(b))
	}
	if cg.v1 {
		peak, _ := strconv.ParseInt(read("memory.max_usage_in_bytes"), 10, 64)
		oom := "?"
		for _, l := range strings.Split(read("memory.oom_control"), "\n") {
			if v, ok := strings.CutPrefix(l, "oom_kill "); ok {
				oom = v
			}
		}
		return fmt.Sprintf("peak usage %.1f MB (page cache included), limit hit %s times, OOM kills %s", float64(peak)/1e6, read("memory.failcnt"), oom)
	}
	peak, _ := strconv.ParseInt(read("memory.peak"), 10, 64)
	return fmt.Sprintf("peak usage %.1f MB, events: %s", float64(peak)/1e6, strings.ReplaceAll(read("memory.events"), "\n", ", "))
}

func (cg *cgroup) remove() {
	for range 50 {
		if err := os.Remove(cg.dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond) // the killed sidecar is still leaving
	}
}
