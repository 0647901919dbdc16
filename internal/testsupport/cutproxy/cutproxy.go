// Package cutproxy is a TCP proxy a test puts between a client and a server
// (typically the test API server) to take the server away and give it back:
// Cut makes the server look down, Restore brings it back at the same
// address. Tests use it to prove that a client keeps working from its last
// state while the API server is unreachable, and catches up when it returns.
//
// It forwards bytes and nothing else, so TLS passes through untouched: a
// client verifies the server's certificate as it would directly, and the
// envtest API server's certificate is valid for 127.0.0.1, where the proxy
// listens.
//
//	p := cutproxy.Start(t, "127.0.0.1:6443")
//	cfg.Host = "https://" + p.Addr()
//	…
//	p.Cut()     // open connections are reset, new ones refused
//	p.Restore() // connections are accepted and forwarded again
//
// Used by tests alone: the sidecar's (sidecar, sidecar/internal/kube).
package cutproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proxy forwards the TCP connections made to Addr to its target. Its methods
// are safe for concurrent use.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu sync.Mutex
	// ln is nil while cut. gen counts listeners, so a connection accepted
	// by a listener that was closed meanwhile is not forwarded.
	ln    net.Listener
	gen   int
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Start listens on a free port of 127.0.0.1 and forwards every connection
// to target (host:port). The proxy is closed when the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cutproxy: listening: %v", err)
	}
	p := &Proxy{t: t, target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

// Addr is where clients connect, as host:port. It stays the same across
// Cut and Restore.
func (p *Proxy) Addr() string { return p.addr }

// Cut makes the target unreachable through the proxy, as if the server had
// crashed: every open connection is reset and new ones are refused (the
// listening socket is closed). Cutting a cut proxy does nothing.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	_ = p.ln.Close()
	p.ln = nil
	p.resetAllLocked()
}

// Restore listens at Addr again and forwards new connections. Restoring a
// proxy that is not cut does nothing.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	// The port was ours a moment ago; a connection of a closing client may
	// still hold it briefly, or another process may have taken it.
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ln, err = net.Listen("tcp", p.addr); err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		p.t.Fatalf("cutproxy: listening at %s again: %v", p.addr, err)
	}
	p.serve(ln)
}

func (p *Proxy) close() {
	p.Cut()
	p.wg.Wait()
}

// serve accepts on ln until it is closed. Called with p.mu held or before p
// is shared.
func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	p.gen++
	gen := p.gen
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(gen, c)
			}()
		}
	}()
}

func (p *Proxy) forward(gen int, client net.Conn) {
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		reset(client)
		return
	}
	if !p.track(gen, client, upstream) {
		reset(client)
		_ = upstream.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(upstream, client)
	go pipe(client, upstream)
	// Either side ending ends the connection: half-closed connections are
	// not worth the complexity here.
	<-done
	p.untrack(client, upstream)
	_ = client.Close()
	_ = upstream.Close()
	<-done
}

func (p *Proxy) track(gen int, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil || p.gen != gen {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

func (p *Proxy) resetAllLocked() {
	for c := range p.conns {
		reset(c)
		delete(p.conns, c)
	}
}

// reset closes c with a TCP RST rather than a FIN, so the client sees its
// connection broken ("connection reset by peer"), never an answer that
// seems to have ended normally.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
