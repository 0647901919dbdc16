package operator

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/jack-io/jack-operator/internal/version"
)

// Program is the operator's name in --version and its startup log.
const Program = "jack-operator"

// buildInfo is the operator's jack_operator_build_info: one series, 1,
// whose labels say which build runs, so that a dashboard can count the
// replicas of each version during a rolling update.
var buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "jack_operator_build_info",
	Help: "The operator's build: always 1, labelled with its version, VCS revision and Go version.",
}, []string{"version", "revision", "goversion"})

func init() {
	info := version.Get(Program)
	buildInfo.WithLabelValues(info.Version, info.RevisionLabel(), info.GoVersion).Set(1)
	metrics.Registry.MustRegister(buildInfo)
}
