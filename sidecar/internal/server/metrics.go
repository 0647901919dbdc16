package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

type metrics struct {
	// byRoute caches the per-route children, so a request resolves no labels.
	byRoute sync.Map // routeCode → prometheus.Counter, or route → prometheus.Observer

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	logins        *prometheus.CounterVec
	throttled     *prometheus.CounterVec
	tokenRefusals *prometheus.CounterVec
	forbidden     prometheus.Counter
	refusals      *prometheus.CounterVec

	logoutConfirm      prometheus.Histogram
	logoutsUnconfirmed prometheus.Counter
	sessionsReused     prometheus.Counter

	apiKeyMetrics
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_requests_total", Help: "Requests by route and HTTP status.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jack_sidecar_request_duration_seconds", Help: "Time to answer, by route (proxied requests include Jack's time).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_logins_total", Help: "Login attempts that reached a password check, by result.",
		}, []string{"result"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_throttled_total", Help: "Requests refused by a throttle, by scope: client and account (logins), token and user (refresh and logout), in-flight (requests being served per client).",
		}, []string{"scope"}),
		tokenRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_token_refusals_total", Help: "Tokens refused, by reason.",
		}, []string{"reason"}),
		forbidden: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jack_sidecar_forbidden_total", Help: "Verified requests the role policy refused.",
		}),
		logoutConfirm: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "jack_sidecar_logout_confirm_seconds", Help: "How long a logout waited for every replica to confirm it refuses the token (with API access), confirmed or not.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		logoutsUnconfirmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jack_sidecar_logouts_unconfirmed_total", Help: "Logouts answered 503 LOGOUT_UNCONFIRMED: recorded here, not confirmed by every replica in time.",
		}),
		sessionsReused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jack_sidecar_sessions_ended_for_reuse_total", Help: "Sessions this replica ended because a token a refresh had replaced was presented after its grace (refresh-token reuse, RFC 9700 §4.14).",
		}),
		apiKeyMetrics: newAPIKeyMetrics(),
	}
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jack_sidecar_refusals_total", Help: "Requests refused, by error code (FORGED_IDENTITY, AMBIGUOUS_REQUEST, TOKEN_INVALID, …).",
	}, []string{"code"})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.logins, m.throttled, m.tokenRefusals, m.forbidden, m.refusals,
		m.logoutConfirm, m.logoutsUnconfirmed, m.sessionsReused, m.apiKeyRequests, m.apiKeyRefusals} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// route names a request for metrics without unbounded labels.
func route(ex *exchange) string {
	switch {
	case ex.forward:
		return "forward-auth"
	case !ex.resolved:
		return "other"
	case ex.area == policy.AreaLogin:
		return "login"
	case ex.area == policy.AreaRefresh:
		return "refresh"
	case ex.area == policy.AreaLogout:
		return "logout"
	case ex.area == policy.AreaAuthOther:
		return "other"
	default:
		return "proxy"
	}
}

// WithMetrics counts every answer by route and status, and times it. The
// status is recorded by the request's exchange, so it costs no allocation
// of its own.
func WithMetrics(m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		ex := exchangeOf(w)
		rt := route(ex)
		m.count(rt, max(ex.status, 200))
		if ex.refusal != "" {
			m.refused(ex.refusal)
		}
		m.observe(rt, time.Since(start))
	})
}

type routeCode struct {
	route string
	code  int
}

func (m *metrics) count(route string, code int) {
	key := routeCode{route, code}
	c, ok := m.byRoute.Load(key)
	if !ok {
		c, _ = m.byRoute.LoadOrStore(key, m.requests.WithLabelValues(route, strconv.Itoa(code)))
	}
	c.(prometheus.Counter).Inc()
}

func (m *metrics) observe(route string, d time.Duration) {
	o, ok := m.byRoute.Load(route)
	if !ok {
		o, _ = m.byRoute.LoadOrStore(route, m.duration.WithLabelValues(route))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

func (m *metrics) refused(code api.Code) {
	c, ok := m.byRoute.Load(code)
	if !ok {
		c, _ = m.byRoute.LoadOrStore(code, m.refusals.WithLabelValues(string(code)))
	}
	c.(prometheus.Counter).Inc()
}
