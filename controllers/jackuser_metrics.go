package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	directoryWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jack_user_directory_writes_total",
		Help: "Writes of a namespace's user directory Secret. Bursts of JackUser changes are batched, so this grows much slower than the changes do.",
	}, []string{"namespace"})

	directoryUsers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_user_directory_users",
		Help: "Users in a namespace's user directory.",
	}, []string{"namespace"})

	directoryBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_user_directory_bytes",
		Help: "Size of a namespace's encoded user directory; a Secret holds at most 1048576.",
	}, []string{"namespace"})

	passwordHashSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "jack_password_hash_seconds",
		Help:    "Time to hash or verify one password with argon2id.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 10),
	})
)

func init() {
	metrics.Registry.MustRegister(directoryWrites, directoryUsers, directoryBytes, passwordHashSeconds)
}
