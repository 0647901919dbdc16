package main

import (
	"bufio"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/jack-io/jack-operator/sidecar/internal/app"
)

// passwordCheckSlots reads jack_sidecar_password_check_slots from a running
// sidecar's /metrics.
func passwordCheckSlots(t *testing.T, s *sidecar) int {
	t.Helper()
	resp, err := http.Get(s.ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "jack_sidecar_password_check_slots "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("jack_sidecar_password_check_slots %q", v)
			}
			return int(n)
		}
	}
	t.Fatal("the sidecar exports no jack_sidecar_password_check_slots")
	return 0
}

// TestThePasswordCheckSlotsComeFromTheMemoryLimit starts the real binary
// with the GOMEMLIMIT the injector would give it, and with the flag, and
// reads the slots it settled on.
func TestThePasswordCheckSlotsComeFromTheMemoryLimit(t *testing.T) {
	f := newFixture(t)
	t.Run("derived from GOMEMLIMIT", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "100MiB")            // the child's environment, not this process's runtime
		self, _ := os.ReadFile("/proc/self/cgroup") // the child's cgroup too
		cgroup, _ := app.CgroupMemoryLimit("/sys/fs/cgroup", self)
		// The documented formula: (soft limit - 32 MiB) / 19 MiB, 1 to 2 × GOMAXPROCS.
		want := app.SlotsFor(app.SoftLimit(cgroup, 100<<20), 32<<20, 19<<20, runtime.GOMAXPROCS(0))
		s := f.start()
		if got := passwordCheckSlots(t, s); got != want {
			t.Errorf("%d slots under GOMEMLIMIT=100MiB (cgroup limit %d), want %d; log:\n%s", got, cgroup, want, s.logText())
		}
		if !strings.Contains(s.logText(), `"password checks bounded"`) {
			t.Errorf("the sidecar did not log how it bounded password checks:\n%s", s.logText())
		}
	})
	t.Run("set by the flag", func(t *testing.T) {
		s := f.start("--max-concurrent-password-checks=7")
		if got := passwordCheckSlots(t, s); got != 7 {
			t.Errorf("%d slots with --max-concurrent-password-checks=7", got)
		}
	})
}
