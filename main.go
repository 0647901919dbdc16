// Command manager is the jack-operator: it reconciles JackUsers and
// SigningKeys and serves the admission webhooks. Its options and wiring are
// in internal/operator.
//
// `manager check ...` instead checks an installed operator, for the chart's
// `helm test` (internal/selftest).
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/jack-io/jack-operator/internal/operator"
	"github.com/jack-io/jack-operator/internal/selftest"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(selftest.Main(ctrl.SetupSignalHandler(), os.Args[2:], ctrl.GetConfig, os.Stdout))
	}
	var o operator.Options
	o.AddFlags(flag.CommandLine)
	flag.Parse()
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
