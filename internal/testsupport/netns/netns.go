//go:build linux

// Package netns dials TCP connections from inside another network
// namespace, such as the local cluster's (hack/cluster), while the rest of
// the process stays in its own: a thread that has entered the namespace makes
// each socket, and a socket keeps the namespace it was made in. So a test or
// a port forwarder on the host reaches pod and Service addresses without a
// route, a veth or a firewall rule on the host. Its users: test/e2e, and the
// local cluster's port forwarder (hack/cluster/portfwd), which is tooling for
// the tests and the demo.
//
// Used by tooling: hack/cluster/portfwd, which the local cluster's scripts
// and the end-to-end tests run.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
)

// Dialer dials from inside the network namespace of a process.
type Dialer struct {
	reqs chan request
}

type request struct {
	ctx     context.Context
	network string
	addr    string
	reply   chan result
}

type result struct {
	conn net.Conn
	err  error
}

// NewDialer enters the network namespace of process pid on a thread of its
// own, which serves every Dial until ctx ends. It fails if the namespace
// cannot be entered (not root, no such process).
func NewDialer(ctx context.Context, pid int) (*Dialer, error) {
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("the network namespace of process %d: %w", pid, err)
	}
	d := &Dialer{reqs: make(chan request)}
	entered := make(chan error, 1)
	go d.serve(ctx, ns, entered)
	if err := <-entered; err != nil {
		return nil, err
	}
	return d, nil
}

// serve runs on a locked thread that never leaves the namespace: the
// goroutine ends locked, so the runtime ends the thread with it rather than
// reuse it in the wrong namespace.
func (d *Dialer) serve(ctx context.Context, ns *os.File, entered chan<- error) {
	runtime.LockOSThread()
	_, _, errno := syscall.RawSyscall(sysSetns, ns.Fd(), syscall.CLONE_NEWNET, 0)
	_ = ns.Close()
	if errno != 0 {
		entered <- fmt.Errorf("entering the network namespace: %w", errno)
		return
	}
	entered <- nil
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-d.reqs:
			var nd net.Dialer
			c, err := nd.DialContext(r.ctx, r.network, r.addr)
			r.reply <- result{c, err}
		}
	}
}

// ErrClosed is returned by DialContext once the Dialer's context has ended.
var ErrClosed = errors.New("netns: the dialer has stopped")

// DialContext dials addr (an IP address and port: names would be resolved
// outside the namespace) from inside the namespace; it fits
// http.Transport.DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	reply := make(chan result, 1)
	select {
	case d.reqs <- request{ctx: ctx, network: network, addr: addr, reply: reply}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r := <-reply
	return r.conn, r.err
}
