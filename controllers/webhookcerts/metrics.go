package webhookcerts

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/jack-io/jack-operator/controllers/certs"
)

// Metric names, which the Helm chart's alerts use.
const (
	MetricExpiry          = "jack_operator_webhook_certificate_expiry_timestamp_seconds"
	MetricRotations       = "jack_operator_webhook_certificate_rotations_total"
	MetricCABundleUpdates = "jack_operator_webhook_cabundle_updates_total"
)

// Values of the expiry metric's certificate label.
const (
	certificateCA      = "ca"
	certificateServing = "serving"
)

var (
	expiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricExpiry,
		Help: "When the webhook certificates this replica serves expire (Unix time), by certificate: ca, the current CA published in caBundle; serving, the certificate its webhook server presents. " +
			"Renewal starts two thirds into a certificate's life, so a value less than a third of a life ahead means renewal is failing.",
	}, []string{"certificate"})

	rotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRotations,
		Help: "Changes the leader stored in the webhook certificate Secret, by reason: DoesNotExist, Renewing, CARenewing, NewCATrusted, PreviousCAUnused, DNSNamesChanged and IPAddressesChanged come with time or settings; " +
			"CAExpired, ServingCertExpired, ServingCertMissing and IncorrectIssuer repair a Secret that could not work.",
	}, []string{"reason"})

	caBundleUpdates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricCABundleUpdates,
		Help: "caBundle patches of a webhook configuration by the leader, by kind and name. Two per CA rotation is normal; more means something else keeps resetting it.",
	}, []string{"kind", "name"})
)

func init() {
	metrics.Registry.MustRegister(expiry, rotations, caBundleUpdates)
}

// recordServed reports the certificates of b, which this replica now serves.
func recordServed(b *certs.Bundle) {
	expiry.WithLabelValues(certificateCA).Set(float64(b.CA().NotAfter.Unix()))
	expiry.WithLabelValues(certificateServing).Set(float64(b.Serving().NotAfter.Unix()))
}
