package server

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/throttle"
)

// Config is what the server needs; zero values get the documented defaults.
type Config struct {
	Source      Source
	Revocations revocation.Store
	// Live is the watched view of users; nil when the sidecar has no API
	// access, the mounted directory then deciding alone.
	Live LiveUsers
	// Upstream is Jack, for proxy mode; nil serves only the auth API and /auth.
	Upstream *url.URL
	Log      logr.Logger
	Registry prometheus.Registerer
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// ClientLimit throttles login attempts per client address (default 10
	// at once, then one a second); AccountLimit throttles failed logins per
	// email (default 5 at once, then one every 30 seconds).
	ClientLimit, AccountLimit *throttle.Limiter
	// ConcurrentLogins bounds argon2id work in flight, each taking 19 MiB
	// (default 4).
	ConcurrentLogins int
}

// Server holds the handlers' shared state.
type Server struct {
	src          Source
	revocations  revocation.Store
	live         LiveUsers
	upstream     http.Handler
	log          logr.Logger
	now          func() time.Time
	clientLimit  *throttle.Limiter
	accountLimit *throttle.Limiter
	hashSlots    chan struct{}
	metrics      *metrics
}

// New builds the sidecar's main handler: every route, behind the
// middleware every request goes through.
func New(cfg Config) (http.Handler, error) {
	if cfg.Source == nil || cfg.Revocations == nil {
		return nil, fmt.Errorf("server: a Source and a revocation Store are required")
	}
	s := &Server{
		src:          cfg.Source,
		revocations:  cfg.Revocations,
		live:         cfg.Live,
		log:          cfg.Log,
		now:          cfg.Now,
		clientLimit:  cfg.ClientLimit,
		accountLimit: cfg.AccountLimit,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.clientLimit == nil {
		s.clientLimit = throttle.New(time.Second, 10, 100_000)
	}
	if s.accountLimit == nil {
		s.accountLimit = throttle.New(30*time.Second, 5, 100_000)
	}
	s.hashSlots = make(chan struct{}, max(cfg.ConcurrentLogins, 1))
	if cfg.ConcurrentLogins == 0 {
		s.hashSlots = make(chan struct{}, 4)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if cfg.Upstream != nil {
		s.upstream = s.newProxy(cfg.Upstream)
	}
	return s.withRecovery(s.withMetrics(s.routes())), nil
}

// routes dispatches by path. Not http.ServeMux: it redirects unclean paths
// and answers wrong methods in plain text, and every answer here must be in
// the envelope.
func (s *Server) routes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Whatever a client claims about who it is, only the sidecar says so.
		stripIdentity(r.Header)
		path := r.URL.Path
		switch {
		case path == ForwardAuthPath || strings.HasPrefix(path, ForwardAuthPath+"/"):
			s.forwardAuth(w, r)
		case strings.HasPrefix(path, authPrefix):
			s.authAPI(w, r)
		default:
			s.proxy(w, r)
		}
	})
}

func (s *Server) authAPI(w http.ResponseWriter, r *http.Request) {
	var h http.HandlerFunc
	switch r.URL.Path {
	case loginPath:
		h = s.login
	case refreshPath:
		h = s.refresh
	case logoutPath:
		h = s.logout
	default:
		api.WriteError(w, &api.Error{Code: api.CodeNotFound, Message: "There is no auth endpoint at " + r.URL.Path + "; there are login, refresh and logout."})
		return
	}
	if r.Method != http.MethodPost {
		api.WriteError(w, &api.Error{Code: api.CodeMethodNotAllowed, Message: r.URL.Path + " only accepts POST.", Allow: http.MethodPost})
		return
	}
	h(w, r)
}

// withRecovery turns a panic into a 500 in the envelope, logged without the request body.
func (s *Server) withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error(fmt.Errorf("panic: %v", v), "handler panicked", "path", r.URL.Path, "stack", string(debug.Stack()))
				api.WriteError(w, &api.Error{Code: api.CodeInternal, Message: "The sidecar failed to handle the request."})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
