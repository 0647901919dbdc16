package cutproxy_test

import (
	"bufio"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/internal/testsupport/cutproxy"
)

// echoServer answers each line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, msg string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return line[:len(line)-1], nil
}

func dialAndEcho(t *testing.T, addr, msg string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing the proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if got, err := roundTrip(c, bufio.NewReader(c), msg); err != nil || got != msg {
		t.Fatalf("echo through the proxy = %q, %v; want %q", got, err, msg)
	}
	return c
}

func TestCutResetsConnectionsAndRefusesNewOnesUntilRestored(t *testing.T) {
	p := cutproxy.Start(t, echoServer(t))
	open := dialAndEcho(t, p.Addr(), "before")

	p.Cut()
	if _, err := roundTrip(open, bufio.NewReader(open), "during"); err == nil {
		t.Fatal("a connection open across the cut still works")
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted while cut")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialing while cut: %v; want connection refused", err)
	}
	p.Cut() // cutting again does nothing

	p.Restore()
	p.Restore() // restoring again does nothing
	dialAndEcho(t, p.Addr(), "after")
}

func TestUnreachableTargetResetsTheClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()

	p := cutproxy.Start(t, target)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		return // reset before the dial even returned
	}
	defer c.Close()
	if _, err := roundTrip(c, bufio.NewReader(c), "hello"); err == nil {
		t.Fatal("a connection to a target that is down carried an answer")
	}
}
