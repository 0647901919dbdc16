package selftest

import (
	"context"
	"flag"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Main runs `manager check ARGS`: the checks of Check, with the pod's
// service account, printing a line per check to out; it returns the exit
// code.
func Main(ctx context.Context, args []string, cfg func() (*rest.Config, error), out io.Writer) int {
	var o Options
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(out)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rc, err := cfg()
	if err != nil {
		fmt.Fprintln(out, "FAIL: no API server configuration:", err)
		return 1
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(out, "FAIL:", err)
		return 1
	}
	c, err := client.New(rc, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(out, "FAIL: building a client:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	passed, err := Check(ctx, c, o, nil)
	for _, l := range passed {
		fmt.Fprintln(out, "ok:", l)
	}
	if err != nil {
		fmt.Fprintln(out, "FAIL:", err)
		return 1
	}
	return 0
}
