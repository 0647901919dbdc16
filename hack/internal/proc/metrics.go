package proc

import (
	"bufio"
	"net/http"
	"strings"
	"time"
)

// Scrape reads the Prometheus text at http://addr/metrics and returns its
// lines that start with one of prefixes, each indented by two spaces and
// ended by a newline; nothing when the endpoint does not answer.
func Scrape(addr string, prefixes ...string) string {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				b.WriteString("  " + l + "\n")
				break
			}
		}
	}
	return b.String()
}
