// Command jack-auth is the verifier sidecar: it logs Jack's users in,
// issues and verifies their tokens, and refuses what a role may not do.
//
//	jack-auth [serve] [flags]         serve (the default)
//	jack-auth keys init --out FILE    write a development key ring
//	jack-auth users add --file FILE --email E --name N --role R < password
//	jack-auth version                 print the build (or serve --version)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/jack-io/jack-operator/internal/version"
	"github.com/jack-io/jack-operator/sidecar/internal/app"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "jack-auth:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) >= 2 && args[0] == "keys" && args[1] == "init":
		return app.KeysInit(args[2:], os.Stdout)
	case len(args) >= 2 && args[0] == "users" && args[1] == "add":
		return app.UsersAdd(args[2:], os.Stdin, os.Stdout)
	case len(args) >= 1 && args[0] == "version":
		if len(args) > 1 {
			return fmt.Errorf("version takes no arguments; got %q", args[1:])
		}
		fmt.Println(version.Get(app.Program))
		return nil
	case len(args) >= 1 && args[0] == "serve":
		args = args[1:]
	}
	var o app.Options
	fs := flag.NewFlagSet("jack-auth", flag.ContinueOnError)
	o.AddFlags(fs)
	verbosity := fs.Int("v", 0, "Log verbosity.")
	printVersion := fs.Bool("version", false, "Print the sidecar's version and exit.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *printVersion {
		fmt.Println(version.Get(app.Program))
		return nil
	}
	c, err := o.Complete()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, c, newLogger(*verbosity))
}

// newLogger writes JSON lines to standard error.
func newLogger(verbosity int) logr.Logger {
	return funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{Verbosity: verbosity, LogTimestamp: true})
}
