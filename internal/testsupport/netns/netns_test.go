//go:build linux

package netns

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A server listening on loopback inside a new network namespace is reached
// through the Dialer, and not without it.
func TestDialsIntoAnotherNetworkNamespace(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("entering a network namespace needs root")
	}
	if err := exec.Command("unshare", "--net", "true").Run(); err != nil {
		t.Skipf("cannot create network namespaces here: %v", err)
	}
	// A shell in a new network namespace: loopback up, then a listener
	// answering "hello" once per connection (python3 is on the machine
	// image; nc's flags differ between its variants).
	srv := exec.Command("unshare", "--net", "sh", "-c",
		`ip link set lo up && exec python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 47011)); s.listen(5); print("listening", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"hello"); c.close()
'`)
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Skipf("cannot start a server in a network namespace: %v", err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	buf := make([]byte, 64)
	if n, _ := out.Read(buf); !strings.Contains(string(buf[:n]), "listening") {
		t.Fatalf("the server did not start: %q", buf[:n])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := NewDialer(ctx, srv.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:47011")
	if err != nil {
		t.Fatalf("dialing into the namespace: %v", err)
	}
	got, _ := io.ReadAll(c)
	_ = c.Close()
	if string(got) != "hello" {
		t.Errorf("read %q, want hello", got)
	}
	// The host's loopback has no such server.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:47011", time.Second); err == nil {
		_ = c.Close()
		t.Error("the server is reachable from the host's namespace too")
	}
}
