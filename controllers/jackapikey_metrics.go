package controllers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/apikeys"
)

// The states jack_apikeys counts keys in.
const (
	apiKeyStateReady    = "ready"
	apiKeyStateDisabled = "disabled"
	apiKeyStateExpired  = "expired"
	apiKeyStateNotReady = "not-ready"
)

var (
	apiKeysByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_apikeys",
		Help: "JackAPIKeys by namespace and state: ready, disabled, expired, or not-ready (its Secret could not be written or is not its own).",
	}, []string{"namespace", "state"})

	apiKeyRotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jack_apikey_rotations_total",
		Help: "Rotations of API keys asked for with auth.jack.io/rotate, by namespace.",
	}, []string{"namespace"})

	apiKeyExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_apikey_expiry_timestamp_seconds",
		Help: "When an API key expires (Unix time), for keys with spec.expires. An alert on this minus time() below a week finds keys to renew.",
	}, []string{"namespace", "name", "id"})

	// apiKeyStates is each key's last state, from which jack_apikeys is counted.
	apiKeyStates = struct {
		sync.Mutex
		m map[[2]string]string
	}{m: map[[2]string]string{}}
)

func init() {
	metrics.Registry.MustRegister(apiKeysByState, apiKeyRotations, apiKeyExpiry)
}

func apiKeyState(reason string) string {
	switch reason {
	case authv1alpha1.ReasonAPIKeyReady:
		return apiKeyStateReady
	case authv1alpha1.ReasonAPIKeyDisabled:
		return apiKeyStateDisabled
	case authv1alpha1.ReasonAPIKeyExpired:
		return apiKeyStateExpired
	}
	return apiKeyStateNotReady
}

func recordAPIKeyMetrics(key *authv1alpha1.JackAPIKey, d *apikeys.Result) {
	if d.Rotated {
		apiKeyRotations.WithLabelValues(key.Namespace).Inc()
	}
	apiKeyExpiry.DeletePartialMatch(prometheus.Labels{"namespace": key.Namespace, "name": key.Name})
	if e := key.Spec.Expires; e != nil {
		apiKeyExpiry.WithLabelValues(key.Namespace, key.Name, key.Status.ID).Set(float64(e.Unix()))
	}
	setAPIKeyState(key.Namespace, key.Name, apiKeyState(d.Ready.Reason))
}

func forgetAPIKeyMetrics(namespace, name string) {
	apiKeyExpiry.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "name": name})
	setAPIKeyState(namespace, name, "")
}

// setAPIKeyState records a key's state ("" for a key that is gone) and
// recounts its namespace.
func setAPIKeyState(namespace, name, state string) {
	s := &apiKeyStates
	s.Lock()
	defer s.Unlock()
	if state == "" {
		delete(s.m, [2]string{namespace, name})
	} else {
		s.m[[2]string{namespace, name}] = state
	}
	counts := map[string]int{apiKeyStateReady: 0, apiKeyStateDisabled: 0, apiKeyStateExpired: 0, apiKeyStateNotReady: 0}
	for k, st := range s.m {
		if k[0] == namespace {
			counts[st]++
		}
	}
	for st, n := range counts {
		apiKeysByState.WithLabelValues(namespace, st).Set(float64(n))
	}
}
