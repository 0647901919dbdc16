package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/cluster"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/server"
)

// liveState is what the sidecar keeps current through the API server: the
// namespace's users, the SigningKey's logouts, the SigningKey itself, and
// the namespace's API keys.
type liveState struct {
	started         time.Time
	users           *cluster.Users
	revocations     *cluster.Revocations
	signing         *cluster.Signing
	apiKeys         *cluster.APIKeys
	usersWatch      *kube.Reflector[cluster.JackUser]
	revocationWatch *kube.Reflector[cluster.TokenRevocation]
	signingWatch    *kube.Reflector[cluster.SigningKey]
	apiKeysWatch    *kube.Reflector[cluster.JackAPIKey]
}

// startLive connects to the API server and starts the watches and the
// revocation writer; they run until ctx ends. It fails only on a
// configuration the sidecar cannot use; an unreachable API server is retried
// in the background.
func startLive(ctx context.Context, c *Completed, local *revocation.File, log logr.Logger, reg prometheus.Registerer) (*liveState, error) {
	cfg, err := apiConfig(c)
	if err != nil {
		return nil, fmt.Errorf("--api-credentials: %w", err)
	}
	client, err := kube.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("--api-credentials: %w", err)
	}
	l := &liveState{users: cluster.NewUsers(), signing: cluster.NewSigning(cfg.Namespace, c.SigningKey),
		apiKeys: cluster.NewAPIKeys(cfg.Namespace), started: time.Now()}
	l.revocations = cluster.NewRevocations(cluster.RevocationsConfig{
		Local: local, API: client, Namespace: cfg.Namespace, SigningKey: c.SigningKey, Log: log.WithName("revocations"),
	})
	l.usersWatch = kube.NewReflector(client, kube.ListWatch{
		Path: kube.CollectionPath(jack.Group, jack.Version, cfg.Namespace, jack.ResourceJackUsers),
	}, kube.Handler[cluster.JackUser](l.users))
	l.revocationWatch = kube.NewReflector(client, l.revocations.ListWatch(), kube.Handler[cluster.TokenRevocation](l.revocations))
	l.signingWatch = kube.NewReflector(client, l.signing.ListWatch(), kube.Handler[cluster.SigningKey](l.signing))
	l.apiKeysWatch = kube.NewReflector(client, l.apiKeys.ListWatch(), kube.Handler[cluster.JackAPIKey](l.apiKeys))
	go func() { _ = l.usersWatch.Run(logr.NewContext(ctx, log.WithName("users-watch"))) }()
	go func() { _ = l.revocationWatch.Run(logr.NewContext(ctx, log.WithName("revocations-watch"))) }()
	go func() { _ = l.signingWatch.Run(logr.NewContext(ctx, log.WithName("signingkey-watch"))) }()
	go func() { _ = l.apiKeysWatch.Run(logr.NewContext(ctx, log.WithName("apikeys-watch"))) }()
	go l.revocations.Run(ctx)
	l.register(reg)
	log.Info("watching the API server", "server", cfg.Host, "namespace", cfg.Namespace, "signingKey", c.SigningKey)
	return l, nil
}

// apiConfig reads the credentials directory: token, ca.crt and namespace.
func apiConfig(c *Completed) (kube.Config, error) {
	if c.APIServer == "" {
		return kube.InCluster(c.APICredentials)
	}
	ns, err := os.ReadFile(filepath.Join(c.APICredentials, "namespace"))
	if err != nil {
		return kube.Config{}, fmt.Errorf("reading the namespace: %w", err)
	}
	return kube.Config{
		Host:      c.APIServer,
		TokenFile: filepath.Join(c.APICredentials, "token"),
		CAFile:    filepath.Join(c.APICredentials, "ca.crt"),
		Namespace: strings.TrimSpace(string(ns)),
	}, nil
}

// firstSyncWait is how long a starting sidecar stays unready waiting for its
// first lists, so that a new replica does not accept, for its first
// milliseconds, a token logged out elsewhere or signed by a revoked key, nor
// sign with a key the others have stopped signing with. Past it, an
// unreachable API server does not keep the pod out of its Service: the
// mounted files suffice to serve.
const firstSyncWait = 10 * time.Second

// readyToServe is false only while the sidecar is new and has not listed
// the users, the revocations, the SigningKey and the API keys yet (until
// then it answers an API key 503 SERVICE_UNAVAILABLE).
func (l *liveState) readyToServe(now time.Time) bool {
	synced := l.usersWatch.Status().Synced && l.revocationWatch.Status().Synced && l.signingWatch.Status().Synced &&
		l.apiKeysWatch.Status().Synced
	return synced || now.Sub(l.started) > firstSyncWait
}

type watchReport struct {
	Synced      bool      `json:"synced"`
	Connected   bool      `json:"connected"`
	LastContact time.Time `json:"lastContact,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
}

func reportOf(s kube.Status) watchReport {
	return watchReport{Synced: s.Synced, Connected: s.Connected, LastContact: s.LastContact, LastError: s.LastError}
}

func (l *liveState) report() map[string]any {
	return map[string]any{
		"users":              reportOf(l.usersWatch.Status()),
		"revocations":        reportOf(l.revocationWatch.Status()),
		"signingKey":         reportOf(l.signingWatch.Status()),
		"apiKeys":            reportOf(l.apiKeysWatch.Status()),
		"pendingRevocations": l.revocations.Pending(),
	}
}

// register exposes the watches' state as metrics, read when scraped.
func (l *liveState) register(reg prometheus.Registerer) {
	watches := map[string]func() kube.Status{"users": l.usersWatch.Status, "revocations": l.revocationWatch.Status, "signingkey": l.signingWatch.Status,
		"apikeys": l.apiKeysWatch.Status}
	for name, status := range watches {
		labels := prometheus.Labels{"watch": name}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "jack_sidecar_api_connected", Help: "1 while the watch is in contact with the API server.", ConstLabels: labels,
			}, func() float64 { return boolGauge(status().Connected) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "jack_sidecar_api_last_contact_timestamp_seconds", Help: "When the API server last answered the watch.", ConstLabels: labels,
			}, func() float64 { return unixSeconds(status().LastContact) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "jack_sidecar_api_failures_total", Help: "Failed lists and watches.", ConstLabels: labels,
			}, func() float64 { return float64(status().Failures) }),
		)
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jack_sidecar_revocations_pending", Help: "Logouts recorded here and not yet shared with the other replicas through the API server.",
		}, func() float64 { return float64(l.revocations.Pending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jack_sidecar_live_users", Help: "Users in the watched view of the namespace's JackUsers.",
		}, func() float64 { return float64(l.users.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jack_sidecar_live_api_keys", Help: "API keys in the watched view of the namespace's JackAPIKeys (those issued, not being deleted).",
		}, func() float64 { return float64(l.apiKeys.Len()) }),
	)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// liveUsers is the cluster's view of the users as the server asks for it:
// the cluster package does not import the server's types.
type liveUsers struct{ users *cluster.Users }

func (l liveUsers) LiveUser(id string) (server.LiveUser, bool, bool) {
	u, found, known := l.users.LiveUser(id)
	return server.LiveUser(u), found, known
}
