// Command jack-echo is a stand-in for Jack in the local cluster, the demo and
// the end-to-end tests: it serves a few of Jack's /api/v1/ routes and answers
// each request with the identity the jack-auth sidecar passed it in the
// X-Jack-* headers, so a test can see who Jack believes is calling. It does no
// authentication of its own: like Jack behind the sidecar in proxy mode, it
// listens on loopback only and trusts those headers.
//
//	jack-echo [-listen 127.0.0.1:3000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "Address to serve on. Keep it on loopback: only the sidecar in front of it may reach it.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "jack-echo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listen string) error {
	hostname, _ := os.Hostname()
	srv := &http.Server{
		Addr:              listen,
		Handler:           newHandler(hostname),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("jack-echo: serving on %s", listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
