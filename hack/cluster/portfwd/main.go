// Command portfwd makes ports inside the local cluster's private network
// namespace reachable from the host's loopback, without a veth, a route or a
// firewall rule on the host: it listens in the host's namespace and dials, for
// each connection, from a thread that has entered the cluster's namespace.
// It exits when the process whose namespace it serves is gone.
//
//	portfwd -pid PID -forward 127.0.0.1:16443=127.0.0.1:6443 [-forward ...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jack-io/jack-operator/internal/testsupport/netns"
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

func run(pid int, fwds forwards) error {
	if pid <= 0 || len(fwds) == 0 {
		return errors.New("need -pid and at least one -forward")
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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := netns.NewDialer(ctx, pid)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		log.Printf("portfwd: %s -> %s in the namespace of pid %d", p.ln.Addr(), p.target, pid)
		go serve(p.ln, p.target, d)
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

// serve forwards each connection ln accepts to target, dialled from inside
// the namespace.
func serve(ln net.Listener, target string, d *netns.Dialer) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Printf("portfwd: accept on %s: %v", ln.Addr(), err)
			return
		}
		go func() {
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			conn, err := d.DialContext(ctx, "tcp", target)
			cancel()
			if err != nil {
				log.Printf("portfwd: %s: %v", target, err)
				return
			}
			defer conn.Close()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(conn, c)
			go pipe(c, conn)
			<-done
			<-done
		}()
	}
}
