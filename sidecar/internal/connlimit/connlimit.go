package connlimit

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/sidecar/internal/api"
)

// Reason says which bound refused a connection; it is the reason label of
// jack_sidecar_connections_refused_total.
type Reason string

const (
	// ReasonTotal: the listener held Config.Max connections, or three
	// quarters of them and the client already holds several (see admit).
	ReasonTotal Reason = "max_connections"
	// ReasonPerClient: the client held Config.MaxPerClient connections.
	ReasonPerClient Reason = "max_connections_per_client"
)

// Config bounds a Listener. A zero bound is no bound.
type Config struct {
	// Max bounds the connections open at once.
	Max int
	// MaxPerClient bounds those of one client address.
	MaxPerClient int
	// Trusted are the proxies exempt from MaxPerClient.
	Trusted []netip.Prefix
	// Answer makes a refusal an HTTP answer before the close; only for a
	// plain-HTTP port (on a TLS one, plain text would be garbage).
	Answer bool
	// Metrics counts connections; nil counts nothing.
	Metrics *Metrics
}

// Metrics are the listener's Prometheus metrics.
type Metrics struct {
	open    prometheus.Gauge
	refused *prometheus.CounterVec
}

// NewMetrics registers jack_sidecar_connections_open and
// jack_sidecar_connections_refused_total{reason} on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jack_sidecar_connections_open", Help: "Connections open on the main port.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_connections_refused_total", Help: "Connections to the main port closed as soon as accepted, by the bound reached (max_connections or max_connections_per_client).",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.open, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Both reasons show from the start, at zero.
	m.refused.WithLabelValues(string(ReasonTotal))
	m.refused.WithLabelValues(string(ReasonPerClient))
	return m, nil
}

// Listener is a net.Listener whose Accept hands out only connections
// within its bounds.
type Listener struct {
	net.Listener
	cfg Config

	mu        sync.Mutex
	open      int
	perClient map[netip.Addr]int // only clients with a connection open

	// lingering bounds the refusals being answered at once; past it a
	// refusal is a bare close.
	lingering chan struct{}
}

// maxLingering refusals are answered at once, each for at most three
// lingerTimeouts (see answer).
const (
	maxLingering  = 64
	lingerTimeout = time.Second
)

// New wraps ln.
func New(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, perClient: map[netip.Addr]int{}, lingering: make(chan struct{}, maxLingering)}
}

// Accept returns the next connection within the bounds, refusing those
// over them on the way. It waits only for a connection, never for room.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client, keyed := l.clientOf(c.RemoteAddr())
		reason := l.admit(client, keyed)
		if reason == "" {
			if m := l.cfg.Metrics; m != nil {
				m.open.Inc()
			}
			return &conn{Conn: c, l: l, client: client, keyed: keyed}, nil
		}
		if m := l.cfg.Metrics; m != nil {
			m.refused.WithLabelValues(string(reason)).Inc()
		}
		l.refuse(c, reason)
	}
}

// Open is the number of connections open.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// clientOf is the per-client key of a remote address: the IPv4 address or
// the IPv6 /64; keyed is false for a trusted proxy or an address that is
// not IP.
func (l *Listener) clientOf(a net.Addr) (client netip.Addr, keyed bool) {
	if l.cfg.MaxPerClient <= 0 {
		return netip.Addr{}, false
	}
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}, false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if !ip.IsValid() {
		return netip.Addr{}, false
	}
	for _, p := range l.cfg.Trusted {
		if p.Contains(ip) {
			return netip.Addr{}, false
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// The last quarter of Max is kept for clients holding fewer than
// smallClient connections: a flood from a few dozen addresses, each within
// its share, fills three quarters and no more, and a person opening a
// connection or two still gets in.
const smallClient = 8

// admit counts a connection in, or says which bound it is over.
func (l *Listener) admit(client netip.Addr, keyed bool) Reason {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Max > 0 && l.open >= l.cfg.Max {
		return ReasonTotal
	}
	if keyed && l.perClient[client] >= l.cfg.MaxPerClient {
		return ReasonPerClient
	}
	if keyed && l.cfg.Max > 0 && l.open >= l.cfg.Max-l.cfg.Max/4 && l.perClient[client] >= smallClient {
		return ReasonTotal
	}
	l.open++
	if keyed {
		l.perClient[client]++
	}
	return ""
}

func (l *Listener) release(c *conn) {
	l.mu.Lock()
	l.open--
	if c.keyed {
		if n := l.perClient[c.client] - 1; n > 0 {
			l.perClient[c.client] = n
		} else {
			delete(l.perClient, c.client)
		}
	}
	l.mu.Unlock()
	if m := l.cfg.Metrics; m != nil {
		m.open.Dec()
	}
}

// refuse closes a connection over a bound, after answering it when the
// port speaks plain HTTP. The answer and the close happen aside, so that
// Accept goes on at once.
func (l *Listener) refuse(c net.Conn, reason Reason) {
	if !l.cfg.Answer {
		_ = c.Close()
		return
	}
	select {
	case l.lingering <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-l.lingering }()
		answer(c, refusals[reason])
	}()
}

// answer reads the request's head, writes the refusal, then reads what
// else the client sends until it closes. Each step has its own deadline, so
// a refusal holds its connection for at most 3 × lingerTimeout.
//
// The answer waits for the request because a client reads one only once its
// request is written: Go's Transport, for one, calls an earlier answer
// unsolicited and fails the request. And closing with the request unread
// would reset the connection, which can discard the answer before the
// client reads it.
func answer(c net.Conn, refusal []byte) {
	defer func() { _ = c.Close() }()
	_ = c.SetReadDeadline(time.Now().Add(lingerTimeout))
	readHead(c)
	_ = c.SetWriteDeadline(time.Now().Add(lingerTimeout))
	if _, err := c.Write(refusal); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.CopyN(io.Discard, c, 64<<10)
}

// readHead reads until the blank line that ends a request's headers, at
// most maxHead bytes, or until the read deadline.
func readHead(c net.Conn) {
	const maxHead = 16 << 10
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 1024)
	for len(buf) < maxHead {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, []byte("\r\n\r\n")) || err != nil {
			return
		}
	}
}

// refusals are the answers, encoded once.
var refusals = map[Reason][]byte{
	ReasonPerClient: refusal(429, "Too Many Requests", api.CodeTooManyRequests, "Too many connections from this client; close some and retry.", 1),
	ReasonTotal:     refusal(503, "Service Unavailable", api.CodeNotReady, "The server has too many connections open; retry shortly.", 1),
}

func refusal(status int, text string, code api.Code, message string, retryAfter int) []byte {
	body := `{"success":false,"error":{"code":"` + string(code) + `","message":"` + message + `"}}` + "\n"
	return []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + text + "\r\n" +
		"Content-Type: application/json; charset=utf-8\r\n" +
		"Cache-Control: no-store\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"Retry-After: " + strconv.Itoa(retryAfter) + "\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// conn gives its place back when closed, once.
type conn struct {
	net.Conn
	l      *Listener
	client netip.Addr
	keyed  bool
	closed atomic.Bool
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c)
	}
	return err
}

// CloseWrite lets net/http half-close, as it does on a bare TCP connection.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the kernel's copy (sendfile, splice) that net/http uses on a
// bare TCP connection.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}
