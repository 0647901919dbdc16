package app

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/sidecar/internal/server"
)

// PasswordChecks are the flags that bound argon2id work: how many checks
// run at once, how long a login waits for one, and when their memory goes
// back to the OS. See "Memory" in docs/sidecar.md.
type PasswordChecks struct {
	// MaxConcurrent is how many checks may run at once; 0 derives it from
	// the memory limit (SlotsFor).
	MaxConcurrent int
	// maxConcurrentGiven is whether the flag gave a number: 0 given is
	// refused rather than taken for "derive", since a user who wrote it
	// meant something else, and no login could ever run with no slot.
	maxConcurrentGiven bool
	// Wait is the longest a login waits for a slot before 503 LOGIN_BUSY.
	Wait time.Duration
	// ReturnMemoryAfter is how long no check must have run before their
	// memory is returned to the OS; 0 leaves it to the Go runtime.
	ReturnMemoryAfter time.Duration
}

// AddFlags registers the flags on fs.
func (p *PasswordChecks) AddFlags(fs *flag.FlagSet) {
	fs.Var(slotsValue{&p.MaxConcurrent, &p.maxConcurrentGiven}, "max-concurrent-password-checks", "Password checks (argon2id, 19 MiB each) that may run at once: at least 1, or `auto` (the default), "+
		"which derives it from the container's memory limit: (0.9 x limit - 32 MiB) / 19 MiB, at least 1 and at most twice GOMAXPROCS.")
	fs.DurationVar(&p.Wait, "password-check-wait", 3*time.Second, "How long a login waits for a password check slot when all are busy before it is answered 503 LOGIN_BUSY; 0 answers at once; at most 30s.")
	fs.DurationVar(&p.ReturnMemoryAfter, "return-memory-after", time.Second, "Once no password check has run for this long, return their memory to the OS (at most once every 10 s); 0 leaves it to the Go runtime, which may keep it for minutes.")
}

// Validate checks the flags, with sentences a user can act on.
func (p PasswordChecks) Validate() error {
	var errs []error
	if p.MaxConcurrent < 0 || p.maxConcurrentGiven && p.MaxConcurrent == 0 {
		errs = append(errs, fmt.Errorf("--max-concurrent-password-checks is %d; set it to at least 1, or to auto (the default) to derive it from the memory limit", p.MaxConcurrent))
	}
	if p.Wait < 0 || p.Wait > 30*time.Second {
		errs = append(errs, fmt.Errorf("--password-check-wait is %s; set it between 0 (answer at once) and 30s: a client waits that long for a busy login's answer", p.Wait))
	}
	if p.ReturnMemoryAfter < 0 {
		errs = append(errs, fmt.Errorf("--return-memory-after is %s; set it to 0 (leave it to the Go runtime) or a positive duration such as 1s", p.ReturnMemoryAfter))
	}
	return errors.Join(errs...)
}

// slotsValue is --max-concurrent-password-checks: "auto" (0) or a number,
// noting that a number was given so that Validate can refuse 0.
type slotsValue struct {
	n     *int
	given *bool
}

func (v slotsValue) String() string {
	if v.n == nil || *v.n == 0 {
		return "auto"
	}
	return strconv.Itoa(*v.n)
}

func (v slotsValue) Set(s string) error {
	if s == "auto" {
		*v.n, *v.given = 0, false
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a number of checks, or auto")
	}
	*v.n, *v.given = n, true
	return nil
}

// Memory the slots are sized with.
const (
	// memoryBaseline is what the sidecar needs besides password checks:
	// 19 MB idle with 1,000 users, plus connections (25-35 KiB each) and
	// the JSON of requests in flight (docs/performance.md).
	memoryBaseline = 32 << 20
)

// checkMemory is what one check allocates: argon2id's memory cost with the
// parameters the operator hashes with (19 MiB).
var checkMemory = int64(password.DefaultParams.Memory) << 10

// SlotsFor is how many password checks may run at once within a memory
// limit of limit bytes (0 or less: none known):
//
//	slots = (limit - baseline) / perCheck, at least 1, at most 2 × procs
//
// With no limit known only the CPU bound applies: checks beyond two per
// core wait for a core anyway, holding their memory meanwhile.
func SlotsFor(limit, baseline, perCheck int64, procs int) int {
	most := max(1, 2*procs)
	if limit <= 0 {
		return most
	}
	n := (limit - baseline) / perCheck
	return int(max(1, min(int64(most), n)))
}

// noLimit is at least what cgroup v1 writes for "no limit"
// (9223372036854771712) and what the Go runtime reports without GOMEMLIMIT.
const noLimit = math.MaxInt64 / 2

// SoftLimit is the memory the slots are sized from, in bytes, 0 when none
// is known: the Go runtime's soft limit goLimit (GOMEMLIMIT, which the
// injector sets to nine tenths of the container's limit), or nine tenths of
// the cgroup's limit when it is lower or GOMEMLIMIT is unset. The tenth
// left is for what the runtime does not count (goroutine stacks, the
// binary) and for the collector to act before the kernel kills.
func SoftLimit(cgroupLimit, goLimit int64) int64 {
	soft := int64(0)
	if goLimit > 0 && goLimit < noLimit {
		soft = goLimit
	}
	if cgroupLimit > 0 && cgroupLimit < noLimit {
		if c := cgroupLimit / 10 * 9; soft == 0 || c < soft {
			soft = c
		}
	}
	return soft
}

// CgroupMemoryLimit is the smallest memory limit on the path of the
// process's cgroup (selfCgroup is /proc/self/cgroup) and where it was read,
// under a cgroup v2 mount at root or a v1 memory controller at
// root/memory; 0 when none is set.
func CgroupMemoryLimit(root string, selfCgroup []byte) (int64, string) {
	var v2, v1 string
	for _, line := range strings.Split(string(selfCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case strings.Contains(","+parts[1]+",", ",memory,"):
			v1 = parts[2]
		}
	}
	best, from := int64(0), ""
	try := func(dir, file, rel string) {
		// The process's own cgroup and its parents, up to root: a pod's
		// limit may be lower than its container's. In a container with its
		// own cgroup namespace the path is "/" and root is its cgroup.
		for p := path.Clean("/" + rel); ; p = path.Dir(p) {
			f := path.Join(dir, p, file)
			if l := readLimit(f); l > 0 && (best == 0 || l < best) {
				best, from = l, f
			}
			if p == "/" {
				return
			}
		}
	}
	try(root, "memory.max", v2)
	try(path.Join(root, "unified"), "memory.max", v2)
	try(path.Join(root, "memory"), "memory.limit_in_bytes", v1)
	return best, from
}

// readLimit reads a cgroup memory limit file: "max", a huge v1 number, or
// a missing file are no limit (0).
func readLimit(file string) int64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || n <= 0 || n >= noLimit {
		return 0
	}
	return n
}

// NewPasswordChecks sizes the checks from the flags and the memory limit,
// and sets the Go runtime's soft limit to nine tenths of the container's
// when GOMEMLIMIT did not, so the collector runs before the kernel kills.
func (p PasswordChecks) NewPasswordChecks(log logr.Logger) *server.PasswordChecks {
	self, _ := os.ReadFile("/proc/self/cgroup")
	cgroup, file := CgroupMemoryLimit("/sys/fs/cgroup", self)
	goLimit := debug.SetMemoryLimit(-1)
	soft := SoftLimit(cgroup, goLimit)
	if soft > 0 && soft != goLimit {
		debug.SetMemoryLimit(soft)
	}
	slots := p.MaxConcurrent
	if slots == 0 {
		slots = SlotsFor(soft, memoryBaseline, checkMemory, runtime.GOMAXPROCS(0))
	}
	log.Info("password checks bounded", "slots", slots, "derived", p.MaxConcurrent == 0, "cgroupLimit", cgroup, "cgroupFile", file,
		"softLimit", soft, "perCheck", checkMemory, "wait", p.Wait.String(), "returnMemoryAfter", p.ReturnMemoryAfter.String())
	return server.NewPasswordChecks(server.PasswordCheckOptions{Slots: slots, MaxWait: p.Wait, IdleAfter: p.ReturnMemoryAfter})
}
