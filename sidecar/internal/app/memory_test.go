package app

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPasswordCheckSlotsAreSizedFromTheMemoryLimit(t *testing.T) {
	per := checkMemory
	if per != 19*mib {
		t.Fatalf("one check is sized at %d bytes, want 19 MiB: the operator's argon2id parameters changed, so the docs' formula and figures did", per)
	}
	for name, tc := range map[string]struct {
		limit int64
		procs int
		want  int
	}{
		"the chart's 128Mi, as GOMEMLIMIT (115.2 MiB)": {128 * mib / 10 * 9, 2, 4},
		"the chart's 128Mi, on a 16-core node":         {128 * mib / 10 * 9, 16, 4},
		"256Mi on 2 cores: the CPU bound":              {256 * mib / 10 * 9, 2, 4},
		"256Mi on 8 cores":                             {256 * mib / 10 * 9, 8, 10},
		"1Gi on 64 cores":                              {1024 * mib / 10 * 9, 64, 46},
		"64Mi: less than two checks fit":               {64 * mib / 10 * 9, 2, 1},
		"32Mi: not even one fits, one runs anyway":     {32 * mib / 10 * 9, 2, 1},
		"exactly the baseline and one check":           {memoryBaseline + per, 4, 1},
		"one byte short of two checks":                 {memoryBaseline + 2*per - 1, 4, 1},
		"no limit known: twice the cores":              {0, 3, 6},
		"no limit and GOMAXPROCS 0 (never): one":       {0, 0, 1},
	} {
		t.Run(name, func(t *testing.T) {
			if got := SlotsFor(tc.limit, memoryBaseline, per, tc.procs); got != tc.want {
				t.Errorf("SlotsFor(%d MiB, %d procs) = %d, want %d", tc.limit/mib, tc.procs, got, tc.want)
			}
		})
	}
}

func TestTheSoftLimitIsTheSmallerOfGOMEMLIMITAndNineTenthsOfTheCgroups(t *testing.T) {
	for name, tc := range map[string]struct {
		cgroup, goLimit, want int64
	}{
		"the injector's GOMEMLIMIT under the cgroup's 128Mi": {128 * mib, 128 * mib / 10 * 9, 128 * mib / 10 * 9},
		"no GOMEMLIMIT: nine tenths of the cgroup's":         {128 * mib, noLimit * 2, 128 * mib / 10 * 9},
		"a GOMEMLIMIT over the cgroup's limit":               {128 * mib, 512 * mib, 128 * mib / 10 * 9},
		"a lower GOMEMLIMIT wins":                            {128 * mib, 64 * mib, 64 * mib},
		"GOMEMLIMIT alone (no cgroup limit)":                 {0, 100 * mib, 100 * mib},
		"neither":                                            {0, noLimit * 2, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if got := SoftLimit(tc.cgroup, tc.goLimit); got != tc.want {
				t.Errorf("SoftLimit(%d, %d) = %d, want %d", tc.cgroup, tc.goLimit, got, tc.want)
			}
		})
	}
}

func TestTheCgroupMemoryLimitIsTheSmallestOnTheProcesssPath(t *testing.T) {
	write := func(t *testing.T, root, file, value string) {
		t.Helper()
		p := filepath.Join(root, file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		files  map[string]string
		self   string
		want   int64
		wantAt string
	}{
		"v2 in its own cgroup namespace (a container)": {
			files: map[string]string{"memory.max": "134217728"}, self: "0::/\n", want: 128 * mib, wantAt: "memory.max",
		},
		"v2, the pod's limit below the container's": {
			files: map[string]string{"kubepods/pod1/c1/memory.max": "134217728", "kubepods/pod1/memory.max": "100663296", "kubepods/memory.max": "max"},
			self:  "0::/kubepods/pod1/c1\n", want: 96 * mib, wantAt: "kubepods/pod1/memory.max",
		},
		"v2 without a limit": {
			files: map[string]string{"a/memory.max": "max"}, self: "0::/a\n", want: 0,
		},
		"v1 memory controller": {
			files: map[string]string{"memory/job/memory.limit_in_bytes": "67108864", "memory/memory.limit_in_bytes": "9223372036854771712"},
			self:  "12:pids:/job\n4:memory:/job\n0::/\n", want: 64 * mib, wantAt: "memory/job/memory.limit_in_bytes",
		},
		"v1 unlimited, as on a bare host": {
			files: map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712"}, self: "4:memory:/\n", want: 0,
		},
		"hybrid: v2 at unified, v1 memory lower": {
			files: map[string]string{"unified/s/memory.max": "134217728", "memory/s/memory.limit_in_bytes": "104857600"},
			self:  "4:memory:/s\n0::/s\n", want: 100 * mib, wantAt: "memory/s/memory.limit_in_bytes",
		},
		"no cgroup files at all": {self: "0::/\n", want: 0},
		"an unreadable value":    {files: map[string]string{"memory.max": "lots"}, self: "0::/\n", want: 0},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for f, v := range tc.files {
				write(t, root, f, v)
			}
			got, at := CgroupMemoryLimit(root, []byte(tc.self))
			if got != tc.want {
				t.Errorf("limit %d, want %d (read from %q)", got, tc.want, at)
			}
			if tc.wantAt != "" && at != filepath.Join(root, tc.wantAt) {
				t.Errorf("read from %q, want %q", at, filepath.Join(root, tc.wantAt))
			}
		})
	}
}

func TestPasswordCheckFlagsThatCannotWorkAreRefusedWithTheFlagNamed(t *testing.T) {
	var p PasswordChecks
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	p.AddFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the defaults are refused: %v", err)
	}
	if p.MaxConcurrent != 0 || p.Wait != 3*time.Second || p.ReturnMemoryAfter != time.Second {
		t.Errorf("defaults %+v: want slots derived (0), a 3s wait and memory returned after 1s", p)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"negative slots":       {[]string{"--max-concurrent-password-checks=-1"}, "--max-concurrent-password-checks is -1; set it to at least 1, or to auto (the default) to derive it"},
		"no slots":             {[]string{"--max-concurrent-password-checks=0"}, "--max-concurrent-password-checks is 0; set it to at least 1, or to auto (the default) to derive it"},
		"slots not a number":   {[]string{"--max-concurrent-password-checks=four"}, "want a number of checks, or auto"},
		"a negative wait":      {[]string{"--password-check-wait=-1s"}, "--password-check-wait is -1s; set it between 0"},
		"a wait over 30s":      {[]string{"--password-check-wait=1m"}, "--password-check-wait is 1m0s; set it between 0"},
		"a negative idle time": {[]string{"--return-memory-after=-5s"}, "--return-memory-after is -5s; set it to 0"},
	} {
		t.Run(name, func(t *testing.T) {
			var o Options
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o.AddFlags(fs)
			err := fs.Parse(tc.args)
			if err == nil {
				_, err = o.Complete()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Complete = %v, want %q", err, tc.want)
			}
		})
	}
	for _, ok := range [][]string{{"--max-concurrent-password-checks=1"}, {"--max-concurrent-password-checks=auto"}, {"--password-check-wait=0"}, {"--return-memory-after=0"}} {
		var o Options
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(ok); err != nil {
			t.Errorf("%v is refused: %v", ok, err)
		}
		if err := o.PasswordChecks.Validate(); err != nil {
			t.Errorf("%v is refused: %v", ok, err)
		}
	}
	if got := fs.Lookup("max-concurrent-password-checks").DefValue; got != "auto" {
		t.Errorf("--max-concurrent-password-checks defaults to %q in the help, want auto", got)
	}
}
