// Command portfwd makes ports inside the local cluster's private network
// namespace reachable from the host's loopback, without a veth, a route or a
// firewall rule on the host: it listens in the host's namespace and dials, for
// each connection, from a thread that has entered the cluster's namespace.
// It exits when the process whose namespace it serves is gone.
//
//	portfwd -pid PID -forward 127.0.0.1:16443=127.0.0.1:6443 [-forward ...]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type forwards []string

func (f *forwards) String() string     { return strings.Join(*f, ",") }
func (f *forwards) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	pid := flag.Int("pid", 0, "A process in the network namespace to forward into (the cluster's PID 1 as the host sees it).")
	var fwds forwards
	flag.Var(&fwds, "forward", "LISTEN=TARGET: listen on LISTEN on the host, dial TARGET inside the namespace. Repeatable.")
	flag.Parse()
	if err := run(*pid, fwds); err != nil {
		fmt.Fprintln(os.Stderr, "portfwd:", err)
		os.Exit(1)
	}
}

type dialRequest struct {
	addr  string
	reply chan dialResult
}

type dialResult struct {
	conn net.Conn
	err  error
}

func run(pid int, fwds forwards) error {
	if pid <= 0 || len(fwds) == 0 {
		return errors.New("need -pid and at least one -forward")
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return fmt.Errorf("the network namespace of pid %d: %w", pid, err)
	}
	// Listen first, while every thread is still in the host's namespace.
	type pair struct {
		ln     net.Listener
		target string
	}
	var pairs []pair
	for _, f := range fwds {
		listen, target, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("-forward %q: want LISTEN=TARGET", f)
		}
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return err
		}
		pairs = append(pairs, pair{ln, target})
	}

	dials := make(chan dialRequest)
	entered := make(chan error)
	go dialer(ns, dials, entered)
	if err := <-entered; err != nil {
		return err
	}
	for _, p := range pairs {
		log.Printf("portfwd: %s -> %s in the namespace of pid %d", p.ln.Addr(), p.target, pid)
		go serve(p.ln, p.target, dials)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-tick.C:
			if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
				log.Printf("portfwd: pid %d is gone; stopping", pid)
				return nil
			}
		}
	}
}

// dialer owns one OS thread that it moves into the namespace and never gives
// back: sockets take the namespace of the thread that creates them. (The Go
// runtime never clones new threads from a locked one, so the namespace stays
// on this thread.)
func dialer(ns *os.File, reqs <-chan dialRequest, entered chan<- error) {
	runtime.LockOSThread()
	if _, _, errno := syscall.RawSyscall(sysSetns, ns.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
		entered <- fmt.Errorf("entering the network namespace: %w", errno)
		return
	}
	entered <- nil
	for r := range reqs {
		c, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
		r.reply <- dialResult{c, err}
	}
}

func serve(ln net.Listener, target string, dials chan<- dialRequest) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Printf("portfwd: accept on %s: %v", ln.Addr(), err)
			return
		}
		go func() {
			defer c.Close()
			reply := make(chan dialResult, 1)
			dials <- dialRequest{target, reply}
			res := <-reply
			if res.err != nil {
				log.Printf("portfwd: %s: %v", target, res.err)
				return
			}
			defer res.conn.Close()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(res.conn, c)
			go pipe(c, res.conn)
			<-done
			<-done
		}()
	}
}
