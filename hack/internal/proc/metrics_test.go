package proc

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestScrapeKeepsTheLinesOfThePrefixes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "# HELP jack_a a\njack_a 1\njack_b{x=\"y\"} 2\ngo_goroutines 7\njack_ab 3\n")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if got, want := Scrape(addr, "jack_a", "go_"), "  jack_a 1\n  go_goroutines 7\n  jack_ab 3\n"; got != want {
		t.Errorf("Scrape = %q, want %q", got, want)
	}
	srv.Close()
	if got := Scrape(addr, "jack_a"); got != "" {
		t.Errorf("Scrape of a closed server = %q, want nothing", got)
	}
}
