package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/jack-io/jack-operator/sidecar/internal/api"
)

// inFlight counts each client's requests being served.
type inFlight struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newInFlight(max int) *inFlight {
	return &inFlight{max: max, n: map[string]int{}}
}

func (f *inFlight) acquire(client string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[client] >= f.max {
		return false
	}
	f.n[client]++
	return true
}

func (f *inFlight) release(client string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[client] <= 1 {
		delete(f.n, client) // the map holds only clients with requests
	} else {
		f.n[client]--
	}
}

var errTooManyInFlight = &api.Error{Code: api.CodeTooManyRequests, Message: "Too many requests from your address are being served at once; wait for them to finish.", RetryAfter: time.Second}

// WithClientLimit bounds the requests each client has in flight, so that a
// greedy client (many slow uploads, a flood of slow proxied calls) holds a
// bounded share of the sidecar and of Jack. The client is the address
// WithResolution found, the one a trusted proxy reports behind a gateway.
func WithClientLimit(f *inFlight, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := exchangeOf(w).client
		if !f.acquire(client) {
			m.throttled.WithLabelValues("in-flight").Inc()
			refuse(w, errTooManyInFlight)
			return
		}
		defer f.release(client)
		next.ServeHTTP(w, r)
	})
}
