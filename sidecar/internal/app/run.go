package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/internal/version"
	"github.com/jack-io/jack-operator/sidecar/internal/livefile"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/server"
)

// Program is the sidecar's name in --version and its startup log.
const Program = "jack-auth"

// newBuildInfo is jack_sidecar_build_info: one series, 1, whose labels say
// which build runs, so that a dashboard can count the sidecars of each
// version while injected pods are restarted onto a new one.
func newBuildInfo() prometheus.Collector {
	info := version.Get(Program)
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jack_sidecar_build_info",
		Help: "The sidecar's build: always 1, labelled with its version, VCS revision and Go version.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(info.Version, info.RevisionLabel(), info.GoVersion).Set(1)
	return g
}

// files is the server's Source: the latest good load of each watched file.
type files struct {
	keys   *livefile.File[*server.Keys]
	users  *livefile.File[*server.Users]
	policy *livefile.File[*policy.Policy] // nil: the default policy
}

func (f *files) Keys() (*server.Keys, bool)   { return f.keys.Load() }
func (f *files) Users() (*server.Users, bool) { return f.users.Load() }

func (f *files) Policy() *policy.Policy {
	if f.policy != nil {
		if p, ok := f.policy.Load(); ok {
			return p
		}
	}
	return policy.Default()
}

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, c *Completed, log logr.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newBuildInfo())
	fm := newFileMetrics(reg)

	src, err := watchFiles(ctx, c, log, fm)
	if err != nil {
		return err
	}
	revs, err := revocation.Open(c.RevocationsFile, time.Now(), c.RevocationOptions())
	if err != nil {
		return err
	}
	defer func() { _ = revs.Close() }()
	reg.MustRegister(revs.Collector())
	go pruneRevocations(ctx, revs, log)

	cfg := server.Config{Source: src, Revocations: revs, Upstream: c.UpstreamURL, Log: log.WithName("server"), Registry: reg,
		ForwardAuth: c.Dialect, TrustedProxies: c.Trusted, StripHeaders: c.StripHeaders, MaxInFlightPerClient: c.MaxInFlightPerClient, BodyTimeout: c.BodyTimeout,
		LogoutConfirmTimeout: c.LogoutConfirmTimeout, PasswordChecks: c.PasswordChecks.NewPasswordChecks(log)}
	var live *liveState
	if c.APICredentials != "" {
		if live, err = startLive(ctx, c, revs, log, reg); err != nil {
			return err
		}
		cfg.Revocations, cfg.Live, cfg.Signing = live.revocations, liveUsers{live.users}, live.signing
		cfg.LogoutConfirmer = live.revocations
		cfg.APIKeys = live.apiKeys
	}
	handler, err := server.New(cfg)
	if err != nil {
		return err
	}
	main := &http.Server{Addr: c.Listen, Handler: handler}
	c.ConfigureServer(main)
	ops := &http.Server{Addr: c.MetricsListen, Handler: opsHandler(reg, c.SigningKey, src, live), ReadHeaderTimeout: 10 * time.Second}

	mainLn, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.Listen, err)
	}
	if wrapped, err := c.Wrap(mainLn, reg, c.TLSCertFile != "", c.Trusted); err != nil {
		_ = mainLn.Close()
		return err
	} else {
		mainLn = wrapped
	}
	opsLn, err := net.Listen("tcp", c.MetricsListen)
	if err != nil {
		_ = mainLn.Close()
		return fmt.Errorf("listening on %s: %w", c.MetricsListen, err)
	}
	info := version.Get(Program)
	log.Info("serving", "version", info.Version, "revision", info.RevisionLabel(), "goVersion", info.GoVersion,
		"listen", mainLn.Addr().String(), "metrics", opsLn.Addr().String(), "upstream", c.Upstream, "tls", c.TLSCertFile != "")

	errs := make(chan error, 2)
	go func() {
		if c.TLSCertFile != "" {
			errs <- main.ServeTLS(mainLn, c.TLSCertFile, c.TLSKeyFile)
		} else {
			errs <- main.Serve(mainLn)
		}
	}()
	go func() { errs <- ops.Serve(opsLn) }()

	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("shutting down", "timeout", c.ShutdownTimeout)
	shutdownCtx, stop := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer stop()
	return errors.Join(main.Shutdown(shutdownCtx), ops.Shutdown(shutdownCtx))
}

func watchFiles(ctx context.Context, c *Completed, log logr.Logger, fm *fileMetrics) (*files, error) {
	keys, err := livefile.Watch(ctx, livefile.Options[*server.Keys]{
		Path: c.KeysFile, Log: log.WithName("keys"), OnReload: fm.onReload("keys"),
		Parse: func(b []byte) (*server.Keys, error) {
			ring, err := keyring.Parse(b)
			if err != nil {
				return nil, err
			}
			fm.keys(ring)
			return server.NewKeys(ring), nil
		},
	})
	if err != nil {
		return nil, err
	}
	users, err := livefile.Watch(ctx, livefile.Options[*server.Users]{
		Path: c.UsersFile, Log: log.WithName("users"), OnReload: fm.onReload("users"),
		Parse: func(b []byte) (*server.Users, error) {
			d, err := userdir.Decode(b)
			if err != nil {
				return nil, err
			}
			fm.users.Set(float64(len(d.Users)))
			return server.NewUsers(d), nil
		},
	})
	if err != nil {
		return nil, err
	}
	f := &files{keys: keys, users: users}
	if c.PolicyFile != "" {
		f.policy, err = livefile.Watch(ctx, livefile.Options[*policy.Policy]{
			Path: c.PolicyFile, Log: log.WithName("policy"), OnReload: fm.onReload("policy"), Parse: policy.Parse,
		})
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

func pruneRevocations(ctx context.Context, revs *revocation.File, log logr.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := revs.Prune(time.Now()); err != nil {
				log.Error(err, "pruning expired revocations")
			}
		}
	}
}

// opsHandler serves /metrics, /healthz, /readyz, /state and /confirm. Ready
// means the keys and users have loaded; a file whose latest version failed
// to load is reported in the body (the last good one is still served), and
// so is the state of the API server watches. /state (stateHandler) is what
// the operator reads to know which keys every sidecar holds; /confirm
// (confirmer) is what it asks before it tells a logout, or whoever ended a
// user's sessions, that every replica refuses the tokens, and whoever added
// a user or changed a password that every replica logs them in with it.
func opsHandler(reg *prometheus.Registry, signingKey string, src *files, live *liveState) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+jack.SidecarStatePath, stateHandler(signingKey, src, live))
	var revocations revocationView
	var users userView
	if live != nil {
		revocations, users = live.revocations, live.users
	}
	mux.Handle("GET "+jack.SidecarConfirmPath, newConfirmer(revocations, users, loadedUsers{src.users}, maxConfirmWaiters, reg))
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		statuses := map[string]livefile.Status{"keys": src.keys.Status(), "users": src.users.Status()}
		if src.policy != nil {
			statuses["policy"] = src.policy.Status()
		}
		ready := statuses["keys"].Loaded && statuses["users"].Loaded && (live == nil || live.readyToServe(time.Now()))
		type fileReport struct {
			Loaded    bool      `json:"loaded"`
			LoadedAt  time.Time `json:"loadedAt,omitzero"`
			LastError string    `json:"lastError,omitempty"`
		}
		report := map[string]any{"ready": ready}
		for name, st := range statuses {
			report[name] = fileReport{Loaded: st.Loaded, LoadedAt: st.LoadedAt, LastError: st.LastError}
		}
		if live != nil {
			// Past the first moments, reported but never a reason to be
			// unready: without the API server the sidecar serves with the
			// last state it saw.
			report["api"] = live.report()
		}
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(report)
	})
	return mux
}

type fileMetrics struct {
	reloads *prometheus.CounterVec
	keyIDs  *prometheus.GaugeVec
	users   prometheus.Gauge
}

func newFileMetrics(reg prometheus.Registerer) *fileMetrics {
	m := &fileMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_file_reloads_total", Help: "Loads of the watched files, by file and result (ok or error; on error the last good version is kept).",
		}, []string{"file", "result"}),
		keyIDs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jack_sidecar_loaded_keys", Help: "Keys of the loaded ring: 1 per key id and state.",
		}, []string{"kid", "state"}),
		users: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jack_sidecar_users", Help: "Users in the loaded directory."}),
	}
	reg.MustRegister(m.reloads, m.keyIDs, m.users)
	return m
}

func (m *fileMetrics) onReload(file string) func(bool, error) {
	return func(ok bool, _ error) {
		result := "ok"
		if !ok {
			result = "error"
		}
		m.reloads.WithLabelValues(file, result).Inc()
	}
}

func (m *fileMetrics) keys(r *keyring.Ring) {
	m.keyIDs.Reset()
	for _, k := range r.Keys {
		m.keyIDs.WithLabelValues(k.ID, string(k.State)).Set(1)
	}
}
