package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/internal/apikey"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
	"github.com/jack-io/jack-operator/sidecar/internal/apikeys"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

// APIKeys is the watched view of the namespace's JackAPIKeys (cluster.APIKeys).
type APIKeys interface {
	// Index returns the keys as last seen; known is false until they were
	// first listed. Once known it stays so while the API server is away.
	Index() (ix *apikeys.Index, known bool)
}

// The refusals of API keys. Each is a package variable, its envelope encoded
// once: a flood of made-up keys costs no encoding and no allocation of its
// own.
var (
	errAPIKeyMalformed = &api.Error{Code: api.CodeTokenInvalid, Message: "The API key is not valid: it was mistyped, truncated or made up."}
	errAPIKeyUnknown   = &api.Error{Code: api.CodeTokenInvalid, Message: "The API key is not known: it was deleted, or never issued."}
	errAPIKeyDisabled  = &api.Error{Code: api.CodeTokenInvalid, Message: "This API key is disabled."}
	errAPIKeyExpired   = &api.Error{Code: api.CodeTokenExpired, Message: "This API key has expired."}
	errAPIKeyReplaced  = &api.Error{Code: api.CodeTokenExpired, Message: "This API key was replaced by a rotation and its overlap has ended: use the current value from its Secret."}
	errNoAPIKeys       = &api.Error{Code: api.CodeTokenInvalid, Message: "This sidecar runs without API access (--api-credentials), so it knows no API keys."}
	errAPIKeysNotReady = &api.Error{Code: api.CodeNotReady, Message: "The sidecar has not loaded the API keys yet.", RetryAfter: time.Second}
	errAPIKeyNotHere   = &api.Error{Code: api.CodeAPIKeyNotAllowed, Message: "API keys cannot log in, refresh or log out: they are managed with kubectl (JackAPIKey)."}
	errAPIKeyLimited   = &api.Error{Code: api.CodeTooManyRequests, Message: "This API key has reached its rate limit. Retry after Retry-After seconds.", RetryAfter: time.Second}
)

// bearerAPIKey returns the API key in an Authorization header's value, if
// it holds one (valid or not): a bearer credential with the key prefix.
func bearerAPIKey(h string) (string, bool) {
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !apikey.LooksLikeKey(raw) {
		return "", false
	}
	return raw, true
}

// authenticateAPIKey checks a presented key into id. The format and
// checksum come first, in constant work without a lookup or an allocation,
// so that made-up keys cost less than a forged JWT; then the digest is
// looked up in the watched index, and the key's state decides.
func (s *Server) authenticateAPIKey(raw string, id *Identity, ex *exchange) *api.Error {
	switch apikey.Check(raw) {
	case nil:
	case apikey.ErrChecksum:
		s.metrics.apiKeyBadChecksum.Inc()
		return errAPIKeyMalformed
	default:
		s.metrics.apiKeyMalformed.Inc()
		return errAPIKeyMalformed
	}
	if s.apiKeys == nil {
		s.metrics.apiKeyUnknown.Inc()
		return errNoAPIKeys
	}
	ix, known := s.apiKeys.Index()
	if !known {
		return errAPIKeysNotReady
	}
	v, ok := ix.Lookup(apikey.DigestArray(raw))
	if !ok {
		s.metrics.apiKeyUnknown.Inc()
		return errAPIKeyUnknown
	}
	now := s.now()
	switch o := apikeys.Decide(v, now); o {
	case apikeys.Disabled:
		s.apiKeyRefused(v.Key, o, ex, now)
		return errAPIKeyDisabled
	case apikeys.Expired:
		s.apiKeyRefused(v.Key, o, ex, now)
		if v.Previous && (v.Key.Expires.IsZero() || now.Before(v.Key.Expires)) {
			return errAPIKeyReplaced
		}
		return errAPIKeyExpired
	}
	*id = Identity{User: userdir.User{ID: v.Key.HeaderUserID[0], Role: v.Key.Role}, Key: v.Key}
	return nil
}

// authorizeAPIKey narrows an authorized request to the key's routes.
func authorizeAPIKey(k *apikeys.Key, method, path string) *api.Error {
	switch {
	case k.RoutesError != nil:
		return &api.Error{Code: api.CodeForbidden, Message: "This API key's spec.routes do not compile, so it may call nothing: " + k.RoutesError.Error() + "."}
	case !k.Routes.Allowed(method, path):
		return &api.Error{Code: api.CodeForbidden, Message: "This API key's routes do not include " + method + " " + path + "."}
	}
	return nil
}

// WithAPIKeyLimit applies an authorized API key's rate limit, per replica,
// and counts and records its use: the hour of its last use for /state
// (gathered into status.lastUsed by the operator, so that no request writes
// to the API server), and a log line for its first use in an hour.
func WithAPIKeyLimit(s *Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(w)
		if k := ex.id.Key; ex.authenticated && k != nil {
			now := s.now()
			if ok, _ := k.Usage.Take(now); !ok {
				// The wait is at most 1/requestsPerSecond, and requestsPerSecond
				// is at least 1: Retry-After is always 1.
				s.apiKeyRefused(k, apikeys.RateLimited, ex, now)
				refuse(w, errAPIKeyLimited)
				return
			}
			k.Count(apikeys.Allowed, s.metrics)
			if k.Usage.Used(now) {
				s.apiKeyLog.Info("API key used: the first request this hour at this replica", "apiKey", k.Name, "apiKeyID", k.ID,
					"role", k.Role, "method", ex.method, "path", ex.path, "client", ex.client)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// apiKeyRefused counts a refusal of a known key and logs it: by its id and
// name, never its value; at most one line a minute per key and outcome, so
// that a caller hammering with a disabled key cannot flood the log.
func (s *Server) apiKeyRefused(k *apikeys.Key, o apikeys.Outcome, ex *exchange, now time.Time) {
	k.Count(o, s.metrics)
	if ok, suppressed := k.Usage.ShouldLog(o, now); ok {
		s.apiKeyLog.Info("API key refused", "apiKey", k.Name, "apiKeyID", k.ID, "outcome", o.String(), "role", k.Role,
			"method", ex.method, "path", ex.path, "client", ex.client, "refusedUnloggedSinceLastLine", suppressed)
	}
}

// apiKeyMetrics are the API keys' series.
type apiKeyMetrics struct {
	apiKeyRequests                                    *prometheus.CounterVec
	apiKeyRefusals                                    *prometheus.CounterVec
	apiKeyMalformed, apiKeyBadChecksum, apiKeyUnknown prometheus.Counter
}

func newAPIKeyMetrics() apiKeyMetrics {
	m := apiKeyMetrics{
		apiKeyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_apikey_requests_total",
			Help: "Requests with a known API key, by its status.id and outcome (allowed, forbidden, rate_limited, expired, disabled).",
		}, []string{"key_id", "outcome"}),
		apiKeyRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jack_sidecar_apikey_refusals_total",
			Help: "Requests with an API key that matches none, by reason (malformed, bad_checksum, unknown): no key id, since anyone can make these up.",
		}, []string{"reason"}),
	}
	m.apiKeyMalformed = m.apiKeyRefusals.WithLabelValues("malformed")
	m.apiKeyBadChecksum = m.apiKeyRefusals.WithLabelValues("bad_checksum")
	m.apiKeyUnknown = m.apiKeyRefusals.WithLabelValues("unknown")
	return m
}

// APIKeyCounter implements apikeys.Counters: the key's Usage keeps what it
// returns, so each is made once.
func (m *apiKeyMetrics) APIKeyCounter(id string, o apikeys.Outcome) interface{ Inc() } {
	return m.apiKeyRequests.WithLabelValues(id, o.String())
}

// isSessionArea is true for the auth API's login, refresh and logout,
// which an API key may not call: it has no session.
func isSessionArea(a policy.Area) bool {
	return a == policy.AreaLogin || a == policy.AreaRefresh || a == policy.AreaLogout
}
