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

	"github.com/jack-io/jack-operator/internal/testsupport/netns"
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

	d, err := netns.NewDialer(t.Context(), os.Getpid())
	if err != nil {
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
	go serve(ln, upstream.Listener.Addr().String(), d)

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
