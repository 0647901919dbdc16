package controllers

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/rotation"
)

var (
	signingKeyRotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jack_signingkey_rotations_total",
		Help: "Keys that became active, by SigningKey.",
	}, []string{"namespace", "signingkey"})

	signingKeyActivated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_signingkey_active_key_activated_timestamp_seconds",
		Help: "When the SigningKey's active key started to sign (Unix time); the key's age is time() minus this.",
	}, []string{"namespace", "signingkey"})

	signingKeyActiveAge = &keyAgeCollector{
		desc: prometheus.NewDesc("jack_signingkey_active_key_age_seconds",
			"How long the SigningKey's active key has been signing, at scrape time.",
			[]string{"namespace", "signingkey"}, nil),
		activated: map[[2]string]time.Time{},
		now:       time.Now,
	}

	signingKeyNextRotation = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_signingkey_next_rotation_timestamp_seconds",
		Help: "When the SigningKey's next key will start to sign (Unix time). An alert on time() > this finds a stuck rotation.",
	}, []string{"namespace", "signingkey"})

	signingKeyKeys = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_signingkey_keys",
		Help: "Keys in the SigningKey's ring, by state.",
	}, []string{"namespace", "signingkey", "state"})

	signingKeySidecars = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_signingkey_sidecars",
		Help: "Ready sidecars of the SigningKey, as last read by the operator.",
	}, []string{"namespace", "signingkey"})

	signingKeySidecarsLagging = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_signingkey_sidecars_lagging",
		Help: "Ready sidecars of the SigningKey that lack a key that signs or is about to (or did not answer).",
	}, []string{"namespace", "signingkey"})

	signingKeyPromotionHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_signingkey_promotion_held_seconds",
		Help: "How long a published key has waited, past prepublish, for sidecars that lack it; 0 when none waits. Alert when it exceeds a few minutes.",
	}, []string{"namespace", "signingkey"})
)

func init() {
	metrics.Registry.MustRegister(signingKeyRotations, signingKeyActivated, signingKeyActiveAge, signingKeyNextRotation, signingKeyKeys,
		signingKeySidecars, signingKeySidecarsLagging, signingKeyPromotionHeld)
}

// keyAgeCollector reports each active key's age when scraped, so the figure
// is current even though the controller only wakes at rotation deadlines.
type keyAgeCollector struct {
	desc      *prometheus.Desc
	mu        sync.Mutex
	activated map[[2]string]time.Time
	now       func() time.Time
}

func (c *keyAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *keyAgeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, t := range c.activated {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(t).Seconds(), k[0], k[1])
	}
}

func (c *keyAgeCollector) set(namespace, name string, activated time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.activated[[2]string{namespace, name}] = activated
}

func (c *keyAgeCollector) forget(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.activated, [2]string{namespace, name})
}

func recordSigningKeyMetrics(key *authv1alpha1.SigningKey, res *rotation.Result) {
	ns, name := key.Namespace, key.Name
	active := res.Ring.Active()
	signingKeyActivated.WithLabelValues(ns, name).Set(float64(active.ActivatedAt.Unix()))
	signingKeyActiveAge.set(ns, name, active.ActivatedAt)
	signingKeyNextRotation.WithLabelValues(ns, name).Set(float64(res.NextRotation.Unix()))
	counts := map[jack.KeyState]int{jack.KeyPublished: 0, jack.KeyActive: 0, jack.KeyRetired: 0}
	for _, k := range res.Ring.Keys {
		counts[k.State]++
	}
	for state, n := range counts {
		signingKeyKeys.WithLabelValues(ns, name, string(state)).Set(float64(n))
	}
}

func recordPropagationMetrics(key *authv1alpha1.SigningKey, p *propagation, res *rotation.Result, now time.Time) {
	ns, name := key.Namespace, key.Name
	signingKeySidecars.WithLabelValues(ns, name).Set(float64(p.total))
	signingKeySidecarsLagging.WithLabelValues(ns, name).Set(float64(len(p.lagging)))
	held := 0.0
	if res != nil && res.Held != nil {
		held = now.Sub(res.Held.Since).Seconds()
	}
	signingKeyPromotionHeld.WithLabelValues(ns, name).Set(held)
}

func forgetSigningKeyMetrics(namespace, name string) {
	labels := map[string]string{"namespace": namespace, "signingkey": name}
	signingKeyRotations.DeletePartialMatch(labels)
	signingKeyActivated.DeletePartialMatch(labels)
	signingKeyActiveAge.forget(namespace, name)
	signingKeyNextRotation.DeletePartialMatch(labels)
	signingKeyKeys.DeletePartialMatch(labels)
	signingKeySidecars.DeletePartialMatch(labels)
	signingKeySidecarsLagging.DeletePartialMatch(labels)
	signingKeyPromotionHeld.DeletePartialMatch(labels)
}
