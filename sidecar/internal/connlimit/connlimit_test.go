package connlimit

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// served starts l's accept loop, handing out the connections it admits.
func served(t *testing.T, cfg Config) (*Listener, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, cfg)
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		for c := range accepted {
			_ = c.Close()
		}
	})
	return l, accepted
}

// dialFrom connects to l from the loopback address src, as a distinct
// client would.
func dialFrom(t *testing.T, l net.Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// outcome is what a client sees of its connection: 0 when it is open and
// the server holds it, the HTTP status of a refusal, or -1 for a bare close.
func outcome(t *testing.T, c net.Conn, accepted <-chan net.Conn) (int, string) {
	t.Helper()
	select {
	case sc := <-accepted:
		t.Cleanup(func() { _ = sc.Close() })
		return 0, ""
	case <-time.After(300 * time.Millisecond):
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	// A client sends its request at once; the refusal must still arrive.
	_, _ = io.WriteString(c, "GET /auth HTTP/1.1\r\nHost: sidecar\r\n\r\n")
	br := bufio.NewReader(c)
	if _, err := br.Peek(1); err != nil {
		return -1, ""
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the refusal is not HTTP: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var env struct {
		Success bool
		Error   struct{ Code, Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Success || env.Error.Message == "" {
		t.Fatalf("the refusal's body is not the error envelope: %v %+v", err, env)
	}
	if !resp.Close { // ReadResponse reads Connection: close into Close
		t.Error("the refusal does not say Connection: close")
	}
	return resp.StatusCode, env.Error.Code
}

func TestConnectionsOverABoundAreRefusedAtOnce(t *testing.T) {
	cases := map[string]struct {
		cfg      Config
		held     []string // client addresses holding a connection first
		from     string
		want     int
		wantCode string
	}{
		"a connection within both bounds is served": {
			cfg: Config{Max: 3, MaxPerClient: 2, Answer: true}, held: []string{"127.0.0.2"}, from: "127.0.0.2",
		},
		"a client over its bound gets 429": {
			cfg: Config{Max: 10, MaxPerClient: 2, Answer: true}, held: []string{"127.0.0.2", "127.0.0.2"}, from: "127.0.0.2",
			want: 429, wantCode: "TOO_MANY_REQUESTS",
		},
		"another client is not held back by a greedy one": {
			cfg: Config{Max: 10, MaxPerClient: 2, Answer: true}, held: []string{"127.0.0.2", "127.0.0.2"}, from: "127.0.0.3",
		},
		"past the total anyone gets 503": {
			cfg: Config{Max: 2, MaxPerClient: 2, Answer: true}, held: []string{"127.0.0.2", "127.0.0.3"}, from: "127.0.0.4",
			want: 503, wantCode: "SERVICE_UNAVAILABLE",
		},
		"the total is checked before the client's share": {
			cfg: Config{Max: 2, MaxPerClient: 2, Answer: true}, held: []string{"127.0.0.2", "127.0.0.2"}, from: "127.0.0.2",
			want: 503, wantCode: "SERVICE_UNAVAILABLE",
		},
		"a trusted proxy is bound only by the total": {
			cfg:  Config{Max: 10, MaxPerClient: 1, Answer: true, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.8/30")}},
			held: []string{"127.0.0.9", "127.0.0.9", "127.0.0.9"}, from: "127.0.0.9",
		},
		"a trusted proxy still counts toward the total": {
			cfg:  Config{Max: 2, MaxPerClient: 1, Answer: true, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}},
			held: []string{"127.0.0.9", "127.0.0.9"}, from: "127.0.0.2",
			want: 503, wantCode: "SERVICE_UNAVAILABLE",
		},
		"on a TLS port a refusal is a bare close": {
			cfg: Config{Max: 10, MaxPerClient: 1}, held: []string{"127.0.0.2"}, from: "127.0.0.2", want: -1,
		},
		"near the total, a client holding several is refused": {
			cfg: Config{Max: 12, MaxPerClient: 100, Answer: true}, held: repeat("127.0.0.2", 9), from: "127.0.0.2",
			want: 503, wantCode: "SERVICE_UNAVAILABLE",
		},
		"near the total, a client holding few is served": {
			cfg: Config{Max: 12, MaxPerClient: 100, Answer: true}, held: repeat("127.0.0.2", 9), from: "127.0.0.3",
		},
		"below three quarters of the total, a client holding several is served": {
			cfg: Config{Max: 12, MaxPerClient: 100, Answer: true}, held: repeat("127.0.0.2", 8), from: "127.0.0.2",
		},
		"near the total, a trusted proxy holding many is served": {
			cfg:  Config{Max: 12, MaxPerClient: 100, Answer: true, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}},
			held: repeat("127.0.0.9", 10), from: "127.0.0.9",
		},
		"zero bounds bound nothing": {
			cfg: Config{Answer: true}, held: []string{"127.0.0.2", "127.0.0.2", "127.0.0.2"}, from: "127.0.0.2",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l, accepted := served(t, tc.cfg)
			for _, src := range tc.held {
				c := dialFrom(t, l, src)
				if got, _ := outcome(t, c, accepted); got != 0 {
					t.Fatalf("a connection from %s before the one under test was refused (%d)", src, got)
				}
			}
			got, code := outcome(t, dialFrom(t, l, tc.from), accepted)
			if got != tc.want || code != tc.wantCode {
				t.Errorf("the connection from %s: %d %s, want %d %s", tc.from, got, code, tc.want, tc.wantCode)
			}
		})
	}
}

func TestClosingAConnectionMakesRoomOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	l, accepted := served(t, Config{Max: 1, MaxPerClient: 1, Answer: true, Metrics: m})
	first := dialFrom(t, l, "127.0.0.2")
	var held net.Conn
	select {
	case held = <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("the first connection was not served")
	}
	if got, _ := outcome(t, dialFrom(t, l, "127.0.0.2"), accepted); got != 503 {
		t.Fatalf("the second connection: %d, want 503", got)
	}
	_ = held.Close()
	_ = held.Close() // a second close must not make room twice
	_ = first.Close()
	if l.Open() != 0 {
		t.Fatalf("%d open after the close, want 0", l.Open())
	}
	if got, _ := outcome(t, dialFrom(t, l, "127.0.0.2"), accepted); got != 0 {
		t.Fatalf("after the close: %d, want served", got)
	}
	if got, _ := outcome(t, dialFrom(t, l, "127.0.0.3"), accepted); got != 503 {
		t.Errorf("a double close made room twice: %d, want 503", got)
	}
	if got := testutil.ToFloat64(m.open); got != 1 {
		t.Errorf("jack_sidecar_connections_open = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.refused.WithLabelValues(string(ReasonTotal))); got != 2 {
		t.Errorf("refused for max_connections = %v, want 2", got)
	}
}

// A flood of connections over the bound is refused as fast as it comes:
// the accept loop goes on serving a client within its bound meanwhile.
func TestAFloodOverTheBoundDoesNotBlockAccept(t *testing.T) {
	l, accepted := served(t, Config{Max: 100, MaxPerClient: 5, Answer: true})
	for range 5 {
		dialFrom(t, l, "127.0.0.2")
		<-accepted
	}
	start := time.Now()
	for range 300 {
		// Over its bound, and never read: each refusal is written aside.
		dialFrom(t, l, "127.0.0.2")
	}
	dialFrom(t, l, "127.0.0.3")
	select {
	case sc := <-accepted:
		t.Cleanup(func() { _ = sc.Close() })
	case <-time.After(2 * time.Second):
		t.Fatal("a client within its bound was not served during a flood")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("300 refusals and one accept took %s", d)
	}
	if l.Open() != 6 {
		t.Errorf("%d open, want 6", l.Open())
	}
}

func TestAClientIsAnIPv4AddressOrAnIPv6Slash64(t *testing.T) {
	l := New(nil, Config{MaxPerClient: 1, Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	cases := map[string]struct {
		addr  net.Addr
		want  string // "" when not keyed
		keyed bool
	}{
		"an IPv4 address":                  {&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5}, "192.0.2.7", true},
		"an IPv4-mapped IPv6 address":      {&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 5}, "192.0.2.7", true},
		"an IPv6 address, cut to its /64":  {&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), Port: 5}, "2001:db8:1:2::", true},
		"a trusted proxy is not keyed":     {&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 5}, "", false},
		"another kind of address is not":   {&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "", false},
		"an address given as text is read": {textAddr("198.51.100.1:80"), "198.51.100.1", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, keyed := l.clientOf(tc.addr)
			if keyed != tc.keyed || (keyed && got.String() != tc.want) {
				t.Errorf("clientOf(%s) = %s %v, want %s %v", tc.addr, got, keyed, tc.want, tc.keyed)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }

func TestTheRefusalsAreCompleteHTTPAnswers(t *testing.T) {
	for reason, raw := range refusals {
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(raw))), nil)
		if err != nil {
			t.Fatalf("%s: %v", reason, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || int64(len(body)) != resp.ContentLength || !json.Valid(body) {
			t.Errorf("%s: body %q (%v), Content-Length %d", reason, body, err, resp.ContentLength)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", reason)
		}
	}
}

func TestAcceptReturnsTheListenersError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, Config{Max: 1})
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
}

// Go's Transport calls an answer that comes before its request is written
// unsolicited and fails the request; the refusal waits for the request.
func TestAnHTTPClientGetsTheRefusalAsItsAnswer(t *testing.T) {
	l, accepted := served(t, Config{Max: 10, MaxPerClient: 1, Answer: true})
	dialFrom(t, l, "127.0.0.1")
	<-accepted
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	resp, err := client.Get("http://" + l.Addr().String() + "/auth")
	if err != nil {
		t.Fatalf("the client got no answer: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("the client got %d, Retry-After %q; want 429, 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// A client that never finishes its request is answered all the same, and
// its connection closed, within the deadlines.
func TestASilentRefusedClientIsAnsweredAndClosed(t *testing.T) {
	l, accepted := served(t, Config{Max: 10, MaxPerClient: 1, Answer: true})
	dialFrom(t, l, "127.0.0.2")
	<-accepted
	c := dialFrom(t, l, "127.0.0.2")
	_, _ = io.WriteString(c, "GET /auth HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("status %d, want 429", resp.StatusCode)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the connection is still open after the answer")
	}
	if d := time.Since(start); d > 3*lingerTimeout+time.Second {
		t.Errorf("refusing took %s", d)
	}
}
