// Package promtext reads samples of one metric from a Prometheus text
// endpoint, for tests that check what a real process exports.
//
// Used by the operator's and the sidecar's version tests (main_test.go,
// sidecar/version_test.go).
package promtext

import (
	"bufio"
	"net/http"
	"regexp"
	"testing"
)

// Sample is one sample: its labels and its value as written.
type Sample struct {
	Labels map[string]string
	Value  string
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// Scrape GETs url and returns the samples of the metric name; it fails the
// test when the endpoint does not answer 200.
func Scrape(t testing.TB, url, name string) []Sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var out []Sample
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := sampleLine.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != name {
			continue
		}
		s := Sample{Labels: map[string]string{}, Value: m[3]}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.Labels[p[1]] = p[2]
		}
		out = append(out, s)
	}
	return out
}
