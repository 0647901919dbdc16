package revocation

import "github.com/prometheus/client_golang/prometheus"

const refusedHelp = "Revocations not kept because a bound was reached, by reason: full (a logout refused, the store at --max-revocations), user_full (a logout refused, the user at --max-revocations-per-user), learned_dropped (learned from another replica past twice --max-revocations)."

var (
	heldDesc = prometheus.NewDesc("jack_sidecar_revocations",
		"Logged-out tokens and sessions held (until their tokens expire); the bounds count both.", nil, nil)
	sessionsDesc = prometheus.NewDesc("jack_sidecar_revocation_sessions",
		"Sessions held (refreshed or ended, until their last token expires), counted in jack_sidecar_revocations too.", nil, nil)
	linesDesc = prometheus.NewDesc("jack_sidecar_revocation_file_lines",
		"Lines in the revocation file, stale ones included; it is rewritten past max(2 × held, 1000).", nil, nil)
	refusedDesc     = prometheus.NewDesc("jack_sidecar_revocations_refused_total", refusedHelp, []string{"reason"}, nil)
	compactionsDesc = prometheus.NewDesc("jack_sidecar_revocation_compactions_total",
		"Rewrites of the revocation file without its stale lines, by result.", []string{"result"}, nil)
)

// Collector exposes the store's size, refusals and rewrites to Prometheus.
func (s *File) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *File }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- heldDesc
	ch <- sessionsDesc
	ch <- linesDesc
	ch <- refusedDesc
	ch <- compactionsDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(s.Len()))
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(s.sessionsHeld()))
	ch <- prometheus.MustNewConstMetric(linesDesc, prometheus.GaugeValue, float64(s.lines.Load()))
	for reason, n := range map[string]uint64{"full": s.refusedFull.Load(), "user_full": s.refusedSubject.Load(), "learned_dropped": s.learnedDropped.Load()} {
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(compactionsDesc, prometheus.CounterValue, float64(s.compactions.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(compactionsDesc, prometheus.CounterValue, float64(s.compactionErrors.Load()), "error")
}
