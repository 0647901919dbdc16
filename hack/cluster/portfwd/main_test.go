package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestForward forwards into this process's own network namespace, which
// exercises entering a namespace and piping both ways without making one
// (setns needs CAP_SYS_ADMIN even for the namespace a thread is already in).
func TestForward(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(append([]byte("echo:"), body...))
	}))
	defer upstream.Close()

	ns, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Skip("no /proc/self/ns/net:", err)
	}
	dials := make(chan dialRequest)
	entered := make(chan error)
	go dialer(ns, dials, entered)
	if err := <-entered; err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skip("entering a network namespace needs CAP_SYS_ADMIN:", err)
		}
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serve(ln, upstream.Listener.Addr().String(), dials)

	for i := 0; i < 3; i++ {
		resp, err := http.Post("http://"+ln.Addr().String()+"/", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "echo:hello" {
			t.Fatalf("got %q", got)
		}
	}
}
