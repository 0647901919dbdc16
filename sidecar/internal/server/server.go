package server

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/apikeys"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
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
	// Signing is the watched view of the SigningKey: the key to sign with
	// and the keys revoked. Nil when the sidecar has no API access, the
	// mounted key ring then deciding alone.
	Signing Signing
	// LogoutConfirmer, when set, shares each logout with the other
	// replicas, and a logout answers 200 only once every replica refuses the
	// token (503 LOGOUT_UNCONFIRMED after LogoutConfirmTimeout). Nil when
	// the sidecar has no API access: it runs alone, and a logout holds once
	// recorded.
	LogoutConfirmer LogoutConfirmer
	// APIKeys is the watched view of the namespace's JackAPIKeys. Nil when
	// the sidecar has no API access: API keys are then refused.
	APIKeys APIKeys
	// LogoutConfirmTimeout bounds that wait (default 5 seconds).
	LogoutConfirmTimeout time.Duration
	// Upstream is Jack, for proxy mode; nil serves only the auth API and /auth.
	Upstream *url.URL
	Log      logr.Logger
	Registry prometheus.Registerer
	// Now is the clock; time.Now by default.
	Now func() time.Time

	// ForwardAuth is how gateways describe the original request to /auth
	// (DialectAuto by default); TrustedProxies are the gateways whose
	// forwarded headers are believed (none by default).
	ForwardAuth    Dialect
	TrustedProxies TrustedProxies
	// StripHeaders are more header names that claim an identity, removed
	// from proxied requests and refused at /auth like the built-in ones.
	StripHeaders []string

	// ClientLimit throttles login attempts per client address (default 10
	// at once, then one a second); AccountLimit throttles failed logins per
	// email (default 5 at once, then one every 30 seconds).
	ClientLimit, AccountLimit *throttle.Limiter
	// TokenLimit throttles refreshes per token (default 3 at once, then one
	// every 10 seconds); UserLimit throttles refreshes and logouts per user
	// (default 20 at once, then one every 3 seconds), which bounds how fast
	// one account can grow the revocation store.
	TokenLimit, UserLimit *throttle.Limiter
	// PasswordChecks bounds the argon2id verifications running at once,
	// each taking 19 MiB, and returns their memory after a burst (default:
	// 4 slots, a login waits up to 3 seconds, memory returned after 1 idle
	// second). The sidecar sizes it from its memory limit (package app).
	PasswordChecks *PasswordChecks
	// MaxInFlightPerClient bounds each client's requests being served
	// (default 128).
	MaxInFlightPerClient int
	// BodyTimeout bounds the time to read the body of a request the
	// sidecar answers itself (default 10 seconds).
	BodyTimeout time.Duration
}

// Server holds the handlers' shared state.
type Server struct {
	src         Source
	revocations revocation.Store
	live        LiveUsers
	signing     Signing
	confirmer   LogoutConfirmer
	apiKeys     APIKeys
	upstream    http.Handler
	log         logr.Logger
	// apiKeyLog is the audit log of API keys: by id and name, never a value.
	apiKeyLog    logr.Logger
	now          func() time.Time
	clientLimit  *throttle.Limiter
	accountLimit *throttle.Limiter
	tokenLimit   *throttle.Limiter
	userLimit    *throttle.Limiter
	checks       *PasswordChecks
	bodyTimeout  time.Duration
	// logoutConfirmTimeout bounds a logout's wait for confirmer.
	logoutConfirmTimeout time.Duration
	metrics              *metrics
}

// New builds the sidecar's main handler: the request chain, composed here
// and nowhere else. Each step may refuse a request with the JSON envelope;
// what it learns travels down in the request's exchange.
//
//	recovery → metrics → resolution (dialect, path, credentials) → client limit
//	→ identity stripping → authentication → authorization → an API key's rate
//	limit → the handler
func New(cfg Config) (http.Handler, error) {
	if cfg.Source == nil || cfg.Revocations == nil {
		return nil, fmt.Errorf("server: a Source and a revocation Store are required")
	}
	if cfg.ForwardAuth == "" {
		cfg.ForwardAuth = DialectAuto
	}
	if _, err := ParseDialect(string(cfg.ForwardAuth)); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		src:          cfg.Source,
		revocations:  cfg.Revocations,
		live:         cfg.Live,
		signing:      cfg.Signing,
		confirmer:    cfg.LogoutConfirmer,
		apiKeys:      cfg.APIKeys,
		log:          cfg.Log,
		apiKeyLog:    cfg.Log.WithName("apikeys"),
		now:          cfg.Now,
		clientLimit:  cmp.Or(cfg.ClientLimit, throttle.New(time.Second, 10, 100_000)),
		accountLimit: cmp.Or(cfg.AccountLimit, throttle.New(30*time.Second, 5, 100_000)),
		tokenLimit:   cmp.Or(cfg.TokenLimit, throttle.New(10*time.Second, 3, 100_000)),
		userLimit:    cmp.Or(cfg.UserLimit, throttle.New(3*time.Second, 20, 100_000)),
		checks:       cfg.PasswordChecks,
		bodyTimeout:  cmp.Or(cfg.BodyTimeout, 10*time.Second),

		logoutConfirmTimeout: cmp.Or(cfg.LogoutConfirmTimeout, 5*time.Second),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.checks == nil {
		s.checks = NewPasswordChecks(PasswordCheckOptions{Slots: 4, MaxWait: 3 * time.Second, IdleAfter: time.Second})
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if err := s.checks.register(reg); err != nil {
		return nil, err
	}
	s.metrics = m
	if cfg.Upstream != nil {
		s.upstream = s.newProxy(cfg.Upstream)
	}
	var h http.Handler = http.HandlerFunc(s.serve)
	h = WithAPIKeyLimit(s, h)
	h = WithAuthorization(s.src, m, func(k *apikeys.Key, o apikeys.Outcome, ex *exchange) { s.apiKeyRefused(k, o, ex, s.now()) }, h)
	h = WithAuthentication(s, h)
	identity := newIdentityMatcher(cfg.StripHeaders)
	h = WithIdentityStripping(identity, h)
	h = WithClientLimit(newInFlight(cmp.Or(cfg.MaxInFlightPerClient, 128)), m, h)
	h = WithResolution(Resolution{Dialect: cfg.ForwardAuth, Trusted: cfg.TrustedProxies, Proxy: s.upstream != nil, identity: identity}, h)
	h = WithMetrics(m, h)
	h = WithRecovery(s.log, h)
	return withExchange(h), nil
}

var errNoAuthEndpoint = &api.Error{Code: api.CodeNotFound, Message: "There is no such auth endpoint; there are /api/v1/auth/login, /refresh and /logout."}

// serve is the end of the chain: the request is resolved, and authenticated
// and authorized where it needs to be.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	switch {
	case ex.forward:
		answerForwardAuth(w, ex)
	case ex.area == policy.AreaLogin:
		s.login(w, r, ex)
	case ex.area == policy.AreaRefresh:
		s.refresh(w, r, ex)
	case ex.area == policy.AreaLogout:
		s.logout(w, r, ex)
	case ex.area == policy.AreaAuthOther:
		refuse(w, errNoAuthEndpoint)
	default:
		s.proxy(w, r, ex)
	}
}

var errPanic = &api.Error{Code: api.CodeInternal, Message: "The sidecar failed to handle the request."}

// WithRecovery turns a panic into a 500 in the envelope, logged without the
// request's headers or body.
func WithRecovery(log logr.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error(fmt.Errorf("panic: %v", v), "handler panicked", "path", r.URL.Path, "stack", string(debug.Stack()))
				refuse(w, errPanic)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
