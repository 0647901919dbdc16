package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/sidecar/internal/connlimit"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
)

// Limits bound what slow and greedy clients can hold of the main port —
// connections, time, header bytes — and of the revocation store. See
// "Slow and greedy clients" in docs/sidecar.md.
type Limits struct {
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers: from the connection's opening, or on a keep-alive connection
	// from the first byte of the next request.
	ReadHeaderTimeout time.Duration
	// BodyTimeout is how long a client has to send a request's body, from
	// the end of its headers (see ConfigureServer). Proxied requests, which
	// may upload to Jack, are not bound by it once they are forwarded.
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for that
	// long.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and headers.
	MaxHeaderBytes int
	// MaxConnections bounds the connections open on the main port. Each
	// costs the sidecar 25-35 KiB while a client holds it: 1,024 of them
	// come to about 35 MiB, more than the 32 MiB baseline password checks
	// are sized beside (memory.go; docs/sidecar.md, "Memory").
	MaxConnections int
	// MaxConnectionsPerClient bounds those of one client address (an IPv4
	// address or an IPv6 /64); trusted proxies are bound only by
	// MaxConnections.
	MaxConnectionsPerClient int
	// MaxRevocations and MaxRevocationsPerUser bound the logged-out tokens
	// held (see package revocation).
	MaxRevocations        int
	MaxRevocationsPerUser int
}

// AddFlags registers the limits on fs.
func (l *Limits) AddFlags(fs *flag.FlagSet) {
	fs.DurationVar(&l.ReadHeaderTimeout, "read-header-timeout", 5*time.Second, "How long a client may take to send a request's headers on the main port.")
	fs.DurationVar(&l.BodyTimeout, "body-timeout", 10*time.Second, "How long a client may take to send a request's body, after its headers (requests forwarded to Jack are exempt once forwarded).")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", 60*time.Second, "How long a keep-alive connection to the main port may wait for its next request.")
	fs.IntVar(&l.MaxHeaderBytes, "max-header-bytes", 64<<10, "The largest request line and headers accepted on the main port, in bytes.")
	fs.IntVar(&l.MaxConnections, "max-connections", 1024, "Connections the main port holds open at once; past it new ones get 503 and are closed. Each costs 25-35 KiB of memory while a client holds it.")
	fs.IntVar(&l.MaxConnectionsPerClient, "max-connections-per-client", 256, "Connections one client address (IPv4, or IPv6 /64) may hold open on the main port; past it new ones get 429 and are closed. Trusted proxies are bound only by --max-connections.")
	fs.IntVar(&l.MaxRevocations, "max-revocations", revocation.DefaultMaxEntries, "Sessions refreshed or ended, and logged-out tokens, held until their tokens expire; past it a logout or a session's first refresh is refused with 503 and the token stays valid.")
	fs.IntVar(&l.MaxRevocationsPerUser, "max-revocations-per-user", revocation.DefaultMaxPerSubject, "Sessions and logged-out tokens of one user held until their tokens expire; past it that user's logouts and first refreshes are refused with 503.")
}

// Validate checks the limits, with sentences a user can act on.
func (l Limits) Validate() error {
	var errs []error
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--read-header-timeout", l.ReadHeaderTimeout}, {"--body-timeout", l.BodyTimeout}, {"--idle-timeout", l.IdleTimeout}} {
		if d.v < time.Second {
			errs = append(errs, fmt.Errorf("%s must be at least 1s: without a deadline a slow client holds its connection for ever", d.flag))
		}
	}
	if l.MaxHeaderBytes < 4<<10 {
		errs = append(errs, errors.New("--max-header-bytes must be at least 4096: a bearer token and the forward-auth headers need room"))
	}
	if l.MaxConnections < 1 {
		errs = append(errs, errors.New("--max-connections must be at least 1"))
	}
	switch {
	case l.MaxConnectionsPerClient < 1:
		errs = append(errs, errors.New("--max-connections-per-client must be at least 1"))
	case l.MaxConnectionsPerClient > l.MaxConnections && l.MaxConnections >= 1:
		errs = append(errs, fmt.Errorf("--max-connections-per-client (%d) must not exceed --max-connections (%d)", l.MaxConnectionsPerClient, l.MaxConnections))
	}
	if l.MaxRevocations < 1 {
		errs = append(errs, errors.New("--max-revocations must be at least 1"))
	}
	switch {
	case l.MaxRevocationsPerUser < 1:
		errs = append(errs, errors.New("--max-revocations-per-user must be at least 1"))
	case l.MaxRevocationsPerUser > l.MaxRevocations && l.MaxRevocations >= 1:
		errs = append(errs, fmt.Errorf("--max-revocations-per-user (%d) must not exceed --max-revocations (%d)", l.MaxRevocationsPerUser, l.MaxRevocations))
	}
	return errors.Join(errs...)
}

// ConfigureServer sets the main server's deadlines and header bound.
//
// ReadTimeout, the deadline of a whole request, is ReadHeaderTimeout plus
// BodyTimeout, for every request: net/http reads what is left of a body
// before it sends an answer (a refusal, a 404, /auth's 200), so without it
// a client that declares a body and never sends it would get no answer and
// hold its connection for ever. The proxy lifts it for a request it
// forwards, whose body may be a long upload to Jack. WriteTimeout stays
// unset: it would cut long downloads from Jack.
func (l Limits) ConfigureServer(s *http.Server) {
	s.ReadHeaderTimeout = l.ReadHeaderTimeout
	s.ReadTimeout = l.ReadHeaderTimeout + l.BodyTimeout
	s.IdleTimeout = l.IdleTimeout
	s.MaxHeaderBytes = l.MaxHeaderBytes
}

// Wrap bounds the connections ln hands to the main server and registers
// their metrics on reg. tls says the port serves TLS (a refusal is then a
// bare close: a plain-text answer would be garbage to the client); trusted
// are the proxies bound only by MaxConnections, since they carry many
// clients' requests.
func (l Limits) Wrap(ln net.Listener, reg prometheus.Registerer, tls bool, trusted []netip.Prefix) (net.Listener, error) {
	m, err := connlimit.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return connlimit.New(ln, connlimit.Config{
		Max: l.MaxConnections, MaxPerClient: l.MaxConnectionsPerClient, Trusted: trusted, Answer: !tls, Metrics: m,
	}), nil
}

// RevocationOptions are the bounds of the revocation store.
func (l Limits) RevocationOptions() revocation.Options {
	return revocation.Options{MaxEntries: l.MaxRevocations, MaxPerSubject: l.MaxRevocationsPerUser}
}
