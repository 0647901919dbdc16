package gateways

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// tap sits between a gateway and the sidecar, passing bytes through
// unchanged in both directions while it reads the requests and answers
// from them: what the gateway asked the sidecar (at /auth and on the auth
// API) and what the sidecar answered, by marker. A TCP relay rather than an
// HTTP proxy, so that the sidecar sees exactly what the gateway sent.
//
// Each direction is parsed in lock step with the relay: a chunk of bytes is
// passed on only once the parser has read all of it, so a request is
// recorded before the sidecar can see it, and an answer before the gateway
// can; "the sidecar saw nothing" is then exact when the client has its
// answer.
type tap struct {
	recorder
	ln     net.Listener
	target string
}

func startTap(t *testing.T, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, target: target}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); tp.relay(c) }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return tp
}

func (tp *tap) addr() string { return tp.ln.Addr().String() }

func (tp *tap) relay(client net.Conn) {
	defer func() { _ = client.Close() }()
	server, err := net.Dial("tcp", tp.target)
	if err != nil {
		return
	}
	defer func() { _ = server.Close() }()
	// The requests of one connection, in order, for pairing with answers.
	pending := make(chan *seen, 64)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		in := newLockstep()
		go tp.readRequests(in, pending)
		in.relay(client, server)
		_ = server.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer wg.Done()
		out := newLockstep()
		go tp.readAnswers(out, pending)
		out.relay(server, client)
		_ = client.(*net.TCPConn).CloseWrite()
	}()
	wg.Wait()
}

func (tp *tap) readRequests(in *lockstep, pending chan<- *seen) {
	defer close(pending)
	br := bufio.NewReader(in)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			_, _ = io.Copy(io.Discard, br)
			return
		}
		s := &seen{Method: req.Method, URI: req.RequestURI, Header: req.Header.Clone()}
		tp.add(s)
		pending <- s
		_, _ = io.Copy(io.Discard, req.Body)
	}
}

// readAnswers pairs each answer with the request it answers; bytes that
// answer no request (or that it cannot read) are passed over.
func (tp *tap) readAnswers(out *lockstep, pending <-chan *seen) {
	br := bufio.NewReader(out)
	defer func() { _, _ = io.Copy(io.Discard, br) }()
	for {
		if _, err := br.Peek(1); err != nil {
			return
		}
		var s *seen
		select {
		case s = <-pending:
		case <-time.After(time.Second):
		}
		if s == nil {
			return
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: s.Method})
		if err != nil {
			return
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		tp.mu.Lock()
		s.Status, s.Body = resp.StatusCode, string(body)
		tp.mu.Unlock()
	}
}

// lockstep hands a parser the bytes of one direction of a connection and
// lets the relay pass a chunk on only after the parser asked for more,
// having dealt with everything before it.
type lockstep struct {
	chunks chan []byte
	done   chan struct{}
	closed chan struct{}
	buf    []byte
	began  bool
}

func newLockstep() *lockstep {
	return &lockstep{chunks: make(chan []byte), done: make(chan struct{}), closed: make(chan struct{})}
}

// Read is the parser's side.
func (l *lockstep) Read(p []byte) (int, error) {
	if len(l.buf) == 0 {
		if l.began {
			select {
			case l.done <- struct{}{}:
			case <-l.closed:
				return 0, io.EOF
			}
		}
		l.began = true
		b, ok := <-l.chunks
		if !ok {
			return 0, io.EOF
		}
		l.buf = b
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

// relay copies src to dst, one chunk at a time through the parser.
func (l *lockstep) relay(src io.Reader, dst io.Writer) {
	defer close(l.closed)
	defer close(l.chunks)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			l.chunks <- chunk
			<-l.done
			if _, err := dst.Write(chunk); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
