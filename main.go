// Command manager is the jack-operator: it reconciles JackUsers and
// SigningKeys and serves the admission webhooks. Its options and wiring are
// in internal/operator.
//
// `manager check ...` instead checks an installed operator, for the chart's
// `helm test` (internal/selftest); `manager version` (or --version) prints
// the build (internal/version) and exits.
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/jack-io/jack-operator/internal/operator"
	"github.com/jack-io/jack-operator/internal/selftest"
	"github.com/jack-io/jack-operator/internal/version"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(selftest.Main(ctrl.SetupSignalHandler(), os.Args[2:], ctrl.GetConfig, os.Stdout))
	}
	if len(os.Args) > 1 && os.Args[1] == "version" {
		if len(os.Args) > 2 {
			fmt.Fprintf(os.Stderr, "manager: version takes no arguments; got %q\n", os.Args[2:])
			os.Exit(2)
		}
		fmt.Println(version.Get(operator.Program))
		return
	}
	var o operator.Options
	o.AddFlags(flag.CommandLine)
	printVersion := flag.Bool("version", false, "Print the operator's version and exit.")
	flag.Parse()
	if *printVersion {
		fmt.Println(version.Get(operator.Program))
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap)))
	log := ctrl.Log.WithName("setup")

	c, err := o.Complete()
	if err != nil {
		log.Error(err, "the operator's options")
		os.Exit(1)
	}
	if err := operator.Run(ctrl.SetupSignalHandler(), c, ctrl.GetConfigOrDie()); err != nil {
		log.Error(err, "operator stopped")
		os.Exit(1)
	}
}
