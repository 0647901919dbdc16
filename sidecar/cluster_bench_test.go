package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkRefreshWatchingTheAPIServer runs refreshes (a verification and a
// signing each) against a sidecar that watches the API server, and reports
// its resident memory afterwards, the figure docs/performance.md holds to
// 20 MiB:
//
//	go test -run '^$' -bench WatchingTheAPIServer -benchtime 5000x ./sidecar/
func BenchmarkRefreshWatchingTheAPIServer(b *testing.B) {
	n := newJackNamespace(b)
	s := n.startSidecar(n.apiHost(), b.TempDir())
	tok := loginToken(b, s, "sam@example.com", "first password of sam")
	b.ResetTimer()
	for range b.N {
		if !verifies(s, tok) {
			b.Fatal("a refresh was refused")
		}
	}
	b.StopTimer()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		b.Skip("no /proc: cannot read the sidecar's memory")
	}
	for _, l := range strings.Split(string(status), "\n") {
		for _, f := range []struct{ prefix, unit string }{{"VmRSS:", "rss-kB"}, {"VmHWM:", "peak-rss-kB"}} {
			if v, ok := strings.CutPrefix(l, f.prefix); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				b.ReportMetric(kb, f.unit)
			}
		}
	}
}
