package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/apikey"
	"github.com/jack-io/jack-operator/sidecar/internal/apikeys"
)

// keyView is a watched view of JackAPIKeys that the test sets: the index
// as cluster.APIKeys would build it from the objects' specs and statuses.
type keyView struct {
	mu    sync.Mutex
	ix    *apikeys.Index
	known bool
}

func (v *keyView) Index() (*apikeys.Index, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ix, v.known
}

func (v *keyView) set(specs ...apikeys.Spec) {
	keys := make([]*apikeys.Key, len(specs))
	for i, s := range specs {
		keys[i] = apikeys.NewKey(s, apikeys.NewUsage())
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ix, v.known = apikeys.NewIndex(specs, keys), true
}

// newKey generates a value and the spec of a key holding it as Current.
func newKey(t testing.TB, id string, role jack.Role) (string, apikeys.Spec) {
	t.Helper()
	v, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return v, apikeys.Spec{Name: "key-" + id, ID: id, Role: role, Values: []apikeys.ValueSpec{{Digest: apikey.Digest(v)}}}
}

// badChecksum is a value of the right shape whose checksum does not match.
func badChecksum(v string) string {
	last := byte('0')
	if v[len(v)-1] == '0' {
		last = '1'
	}
	return v[:len(v)-1] + string(last)
}

// madeUp is a well-formed key with a valid checksum that no JackAPIKey holds.
func madeUp(t testing.TB) string {
	v, _ := newKey(t, "x", jack.RoleStaff)
	return v
}

// apiKeyFixture is a sidecar's state with a key of each kind the table
// needs, and a clock the test moves.
type apiKeyFixture struct {
	tm     *team
	view   *keyView
	now    time.Time
	values map[string]string
	reg    *prometheus.Registry
}

func newAPIKeyFixture(t *testing.T) *apiKeyFixture {
	f := &apiKeyFixture{tm: newTeam(t), view: &keyView{}, now: time.Now().UTC().Truncate(time.Second), values: map[string]string{}}
	add := func(id string, role jack.Role, change func(*apikeys.Spec)) apikeys.Spec {
		v, s := newKey(t, id, role)
		if change != nil {
			change(&s)
		}
		f.values[id] = v
		return s
	}
	rotated := add("ak-rotated", jack.RoleStaff, nil)
	old, _ := newKey(t, "old", jack.RoleStaff)
	f.values["ak-rotated-old"] = old
	rotated.Values = append(rotated.Values, apikeys.ValueSpec{Digest: apikey.Digest(old), Previous: true, ValidUntil: f.now.Add(time.Minute)})
	f.view.set(
		add("ak-staff", jack.RoleStaff, nil),
		add("ak-admin", jack.RoleAdmin, nil),
		add("ak-reports", jack.RoleManager, func(s *apikeys.Spec) { s.Routes = []string{"GET /api/v1/reports/**", "/api/v1/tasks/*"} }),
		add("ak-badroutes", jack.RoleAdmin, func(s *apikeys.Spec) { s.Routes = []string{"/api/**/x"} }),
		add("ak-disabled", jack.RoleAdmin, func(s *apikeys.Spec) { s.Disabled = true }),
		add("ak-expired", jack.RoleAdmin, func(s *apikeys.Spec) { s.Expires = f.now.Add(-time.Second) }),
		add("ak-expiring", jack.RoleAdmin, func(s *apikeys.Spec) { s.Expires = f.now.Add(time.Hour) }),
		add("ak-limited", jack.RoleStaff, func(s *apikeys.Spec) { s.RateLimit = apikeys.RateLimit{PerSecond: 2, Burst: 3} }),
		rotated,
	)
	return f
}

func (f *apiKeyFixture) server(t *testing.T, cfg Config) http.Handler {
	f.reg = prometheus.NewRegistry()
	cfg.APIKeys, cfg.Registry, cfg.Now = f.view, f.reg, func() time.Time { return f.now }
	return newServer(t, f.tm, cfg)
}

func TestAnAPIKeyIsAcceptedOrRefusedAsItsJackAPIKeySays(t *testing.T) {
	keys := newAPIKeyFixture(t) // for the values that no key holds
	cases := map[string]struct {
		key          string // an id of f.values, or the value itself
		method, path string
		status       int
		code         string
		outcome      string // the key's outcome counted, if known
	}{
		"a staff key reads tasks":                           {"ak-staff", "GET", "/api/v1/tasks/7", 200, "", "allowed"},
		"a staff key may not read settings (its role)":      {"ak-staff", "GET", "/api/v1/settings", 403, "FORBIDDEN", "forbidden"},
		"an admin key reads settings":                       {"ak-admin", "GET", "/api/v1/settings", 200, "", "allowed"},
		"a key's routes allow a GET of reports":             {"ak-reports", "GET", "/api/v1/reports/2026", 200, "", "allowed"},
		"a key's routes allow any method on a task":         {"ak-reports", "PATCH", "/api/v1/tasks/7", 200, "", "allowed"},
		"a key's routes refuse a POST of reports":           {"ak-reports", "POST", "/api/v1/reports", 403, "FORBIDDEN", "forbidden"},
		"a key's routes refuse what its role allows":        {"ak-reports", "GET", "/api/v1/guests", 403, "FORBIDDEN", "forbidden"},
		"routes never widen the role":                       {"ak-reports", "GET", "/api/v1/settings", 403, "FORBIDDEN", "forbidden"},
		"routes that do not compile allow nothing":          {"ak-badroutes", "GET", "/api/v1/tasks", 403, "FORBIDDEN", "forbidden"},
		"a disabled key":                                    {"ak-disabled", "GET", "/api/v1/tasks", 401, "TOKEN_INVALID", "disabled"},
		"a key past spec.expires":                           {"ak-expired", "GET", "/api/v1/tasks", 401, "TOKEN_EXPIRED", "expired"},
		"a key before spec.expires":                         {"ak-expiring", "GET", "/api/v1/tasks", 200, "", "allowed"},
		"a rotated key's current value":                     {"ak-rotated", "GET", "/api/v1/tasks", 200, "", "allowed"},
		"a rotated key's previous value within its overlap": {"ak-rotated-old", "GET", "/api/v1/tasks", 200, "", "allowed"},
		"a deleted or never issued key (checksum fine)":     {madeUp(t), "GET", "/api/v1/tasks", 401, "TOKEN_INVALID", ""},
		"a mistyped key (bad checksum)":                     {badChecksum(keys.values["ak-admin"]), "GET", "/api/v1/tasks", 401, "TOKEN_INVALID", ""},
		"a truncated key (malformed)":                       {keys.values["ak-admin"][:20], "GET", "/api/v1/tasks", 401, "TOKEN_INVALID", ""},
		"a key with a character outside base62 (malformed)": {keys.values["ak-admin"][:10] + "-" + keys.values["ak-admin"][11:], "GET", "/api/v1/tasks", 401, "TOKEN_INVALID", ""},
		"the prefix alone":                                  {apikey.Prefix, "GET", "/api/v1/tasks", 401, "TOKEN_INVALID", ""},
	}
	// Every way a request reaches the decision: the proxy, and /auth in each
	// forward-auth dialect.
	type via struct {
		dialect Dialect
		build   func(method, path, auth string) *http.Request
	}
	vias := map[string]via{
		"proxy": {DialectAuto, func(m, p, a string) *http.Request { return request(m, p, "Authorization", a) }},
		"nginx": {DialectNginx, func(m, p, a string) *http.Request {
			return request("GET", "/auth", "Authorization", a, "X-Original-Method", m, "X-Original-URI", p)
		}},
		"traefik": {DialectTraefik, func(m, p, a string) *http.Request {
			return request("GET", "/auth", "Authorization", a, "X-Forwarded-Method", m, "X-Forwarded-Uri", p)
		}},
		"envoy": {DialectEnvoy, func(m, p, a string) *http.Request { return request(m, "/auth"+p, "Authorization", a) }},
	}
	for viaName, v := range vias {
		for name, tc := range cases {
			t.Run(viaName+"/"+name, func(t *testing.T) {
				f := newAPIKeyFixture(t) // each server counts in its own registry
				u, got := upstream(t)
				h := f.server(t, Config{ForwardAuth: v.dialect, Upstream: u})
				value, id := tc.key, ""
				if known, ok := f.values[tc.key]; ok {
					value, id = known, strings.TrimSuffix(tc.key, "-old")
				}
				w, env := serve(t, h, v.build(tc.method, tc.path, "Bearer "+value), "")
				if w.Code != tc.status || env.Error.Code != tc.code {
					t.Fatalf("got %d %s (%s), want %d %s", w.Code, env.Error.Code, env.Error.Message, tc.status, tc.code)
				}
				if tc.outcome != "" {
					if n := testutil.ToFloat64(f.metric(id, tc.outcome)); n != 1 {
						t.Errorf("jack_sidecar_apikey_requests_total{key_id=%q,outcome=%q} = %v, want 1", id, tc.outcome, n)
					}
				}
				if tc.status != 200 {
					return
				}
				hdr := w.Header()
				if viaName == "proxy" {
					hdr = (<-got).Header
					if _, ok := hdr[jack.HeaderUserEmail]; ok {
						t.Errorf("Jack received an email for an API key: %q", hdr[jack.HeaderUserEmail])
					}
				} else if hdr.Get(jack.HeaderUserEmail) != "" || len(hdr[jack.HeaderUserEmail]) != 1 {
					t.Errorf("/auth's email header is %q, want one empty value", hdr[jack.HeaderUserEmail])
				}
				want := map[string]string{
					jack.HeaderUserKind: jack.UserKindAPIKey, jack.HeaderAPIKeyID: id, jack.HeaderUserID: "apikey:" + id,
					jack.HeaderUserRole: string(roleOf(f, id)), jack.HeaderAuthRequestUser: "apikey:" + id,
				}
				for name, val := range want {
					if got := hdr[name]; len(got) != 1 || got[0] != val {
						t.Errorf("%s is %q, want %q", name, got, val)
					}
				}
			})
		}
	}
}

func roleOf(f *apiKeyFixture, id string) jack.Role {
	ix, _ := f.view.Index()
	for _, k := range ix.Keys() {
		if k.ID == id {
			return k.Role
		}
	}
	return ""
}

func (f *apiKeyFixture) metric(id, outcome string) prometheus.Collector {
	mfs, _ := f.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "jack_sidecar_apikey_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["key_id"] == id && labels["outcome"] == outcome {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return 0 })
}

func TestAnAPIKeysRefusalsWithoutAKeyAreCountedByReasonOnly(t *testing.T) {
	f := newAPIKeyFixture(t)
	h := f.server(t, Config{})
	for _, v := range []string{f.values["ak-staff"][:12], badChecksum(f.values["ak-staff"]), badChecksum(f.values["ak-admin"]), madeUp(t)} {
		serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+v), "")
	}
	want := "# HELP jack_sidecar_apikey_refusals_total Requests with an API key that matches none, by reason (malformed, bad_checksum, unknown): no key id, since anyone can make these up.\n" +
		"# TYPE jack_sidecar_apikey_refusals_total counter\n" +
		"jack_sidecar_apikey_refusals_total{reason=\"bad_checksum\"} 2\n" +
		"jack_sidecar_apikey_refusals_total{reason=\"malformed\"} 1\n" +
		"jack_sidecar_apikey_refusals_total{reason=\"unknown\"} 1\n"
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "jack_sidecar_apikey_refusals_total"); err != nil {
		t.Fatal(err)
	}
	if mfs, _ := f.reg.Gather(); strings.Contains(fmt.Sprint(mfs), f.values["ak-staff"][:12]) {
		t.Fatal("a metric holds part of a key")
	}
}

func TestTheAuthAPIRefusesAnAPIKeyWithItsOwnCode(t *testing.T) {
	f := newAPIKeyFixture(t)
	h := f.server(t, Config{})
	for _, path := range []string{"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"} {
		for name, v := range map[string]string{"a valid key": f.values["ak-admin"], "a made-up key": badChecksum(f.values["ak-admin"]), "a disabled key": f.values["ak-disabled"]} {
			r := request("POST", path, "Authorization", "Bearer "+v, "Content-Type", "application/json")
			r.Body = ioNopCloser(`{"email":"admin@example.com","password":"a team password"}`)
			w, env := serve(t, h, r, "")
			if w.Code != http.StatusForbidden || env.Error.Code != "API_KEY_NOT_ALLOWED" || !strings.Contains(env.Error.Message, "kubectl") {
				t.Errorf("%s with %s: %d %s %q, want 403 API_KEY_NOT_ALLOWED", path, name, w.Code, env.Error.Code, env.Error.Message)
			}
		}
	}
	// A JWT still refreshes, and a login without a key still works.
	w, env := serve(t, h, request("POST", "/api/v1/auth/refresh", "Authorization", "Bearer "+f.tm.tokens[jack.RoleStaff]), "")
	if w.Code != 200 {
		t.Fatalf("a JWT's refresh: %d %s", w.Code, env.Error.Code)
	}
}

func TestAnAPIKeysPreviousValueWorksUntilItsValidUntilAndNotAfter(t *testing.T) {
	f := newAPIKeyFixture(t)
	h := f.server(t, Config{})
	old := "Bearer " + f.values["ak-rotated-old"]
	if w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", old), ""); w.Code != 200 {
		t.Fatalf("within the overlap: %d %s", w.Code, env.Error.Code)
	}
	f.now = f.now.Add(time.Minute) // validUntil
	w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", old), "")
	if w.Code != 401 || env.Error.Code != "TOKEN_EXPIRED" || !strings.Contains(env.Error.Message, "rotation") {
		t.Fatalf("at validUntil: %d %s %q, want 401 TOKEN_EXPIRED saying it was rotated", w.Code, env.Error.Code, env.Error.Message)
	}
	if w, _ := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+f.values["ak-rotated"]), ""); w.Code != 200 {
		t.Fatalf("the current value after the overlap: %d", w.Code)
	}
	f.now = f.now.Add(2 * time.Hour) // past ak-expiring's spec.expires
	if w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+f.values["ak-expiring"]), ""); w.Code != 401 || env.Error.Code != "TOKEN_EXPIRED" {
		t.Fatalf("past spec.expires: %d %s", w.Code, env.Error.Code)
	}
}

func TestAnAPIKeysRateLimitAnswers429WithRetryAfterPerKey(t *testing.T) {
	f := newAPIKeyFixture(t)
	h := f.server(t, Config{})
	ask := func(id string) (int, string, string) {
		w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+f.values[id]), "")
		return w.Code, env.Error.Code, w.Header().Get("Retry-After")
	}
	for i := range 3 { // the burst
		if st, code, _ := ask("ak-limited"); st != 200 {
			t.Fatalf("request %d of the burst: %d %s", i+1, st, code)
		}
	}
	st, code, retry := ask("ak-limited")
	if st != 429 || code != "TOO_MANY_REQUESTS" || retry != "1" {
		t.Fatalf("past the burst: %d %s Retry-After %q, want 429 TOO_MANY_REQUESTS Retry-After 1", st, code, retry)
	}
	if st, _, _ := ask("ak-staff"); st != 200 {
		t.Fatal("another key is limited by this one's rate")
	}
	if st, _, _ := ask("ak-limited"); st != 429 {
		t.Fatal("the limit refilled without time passing")
	}
	f.now = f.now.Add(500 * time.Millisecond) // one request at 2 a second
	if st, _, _ := ask("ak-limited"); st != 200 {
		t.Fatalf("after half a second: %d", st)
	}
	if n := testutil.ToFloat64(f.metric("ak-limited", "rate_limited")); n != 2 {
		t.Errorf("rate_limited counted %v times, want 2", n)
	}
	// A forbidden request spends nothing of the rate: the policy answers first.
	f.now = f.now.Add(500 * time.Millisecond)
	if w, _ := serve(t, h, request("GET", "/auth/api/v1/settings", "Authorization", "Bearer "+f.values["ak-limited"]), ""); w.Code != 403 {
		t.Fatalf("a route of another role: %d", w.Code)
	}
	if st, _, _ := ask("ak-limited"); st != 200 {
		t.Fatalf("the forbidden request spent the rate: %d", st)
	}
}

func TestAnAPIKeysUseIsRecordedByTheHour(t *testing.T) {
	f := newAPIKeyFixture(t)
	h := f.server(t, Config{})
	usage := func(id string) *apikeys.Usage {
		ix, _ := f.view.Index()
		for _, k := range ix.Keys() {
			if k.ID == id {
				return k.Usage
			}
		}
		t.Fatalf("no key %s", id)
		return nil
	}
	if !usage("ak-staff").LastUsed().IsZero() {
		t.Fatal("a key never used has a last use")
	}
	serve(t, h, request("GET", "/auth/api/v1/settings", "Authorization", "Bearer "+f.values["ak-staff"]), "") // forbidden
	if !usage("ak-staff").LastUsed().IsZero() {
		t.Fatal("a refused request counts as a use")
	}
	serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+f.values["ak-staff"]), "")
	if got, want := usage("ak-staff").LastUsed(), f.now.Truncate(time.Hour); !got.Equal(want) {
		t.Fatalf("last used %v, want the start of the hour %v", got, want)
	}
}

func TestAnAPIKeyIsRefusedWithoutAViewOrBeforeItsFirstList(t *testing.T) {
	f := newAPIKeyFixture(t)
	h := newServer(t, f.tm, Config{}) // no API access
	w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+f.values["ak-admin"]), "")
	if w.Code != 401 || env.Error.Code != "TOKEN_INVALID" || !strings.Contains(env.Error.Message, "--api-credentials") {
		t.Fatalf("without API access: %d %s %q", w.Code, env.Error.Code, env.Error.Message)
	}
	h = newServer(t, f.tm, Config{APIKeys: &keyView{}})
	w, env = serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+f.values["ak-admin"]), "")
	if w.Code != 503 || env.Error.Code != "SERVICE_UNAVAILABLE" || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("before the first list: %d %s", w.Code, env.Error.Code)
	}
}

func TestAJWTsAnswerSaysItIsAUser(t *testing.T) {
	f := newAPIKeyFixture(t)
	h := f.server(t, Config{})
	w, _ := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+f.tm.tokens[jack.RoleStaff]), "")
	if w.Code != 200 || w.Header().Get(jack.HeaderUserKind) != jack.UserKindUser || len(w.Header()[jack.HeaderAPIKeyID]) != 1 || w.Header().Get(jack.HeaderAPIKeyID) != "" {
		t.Fatalf("%d, kind %q, key id %q", w.Code, w.Header()[jack.HeaderUserKind], w.Header()[jack.HeaderAPIKeyID])
	}
}

// A flood of made-up keys costs what any refusal with a prepared envelope
// costs: no lookup, no digest, nothing allocated of its own.
func TestAFloodOfMadeUpAPIKeysAllocatesNothingOfItsOwn(t *testing.T) {
	f := newAPIKeyFixture(t)
	h := f.server(t, Config{})
	allocs := func(auth string) float64 {
		r := request("GET", "/auth/api/v1/tasks")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := &discard{h: http.Header{}}
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
			if w.code != 401 {
				t.Fatalf("status %d", w.code)
			}
		})
	}
	missing := allocs("")
	for name, v := range map[string]string{
		"bad checksum": badChecksum(f.values["ak-admin"]),
		"malformed":    f.values["ak-admin"][:30],
		"unknown":      madeUp(t),
	} {
		if n := allocs("Bearer " + v); n > missing {
			t.Errorf("%s: %v allocations a request, more than a request without a token (%v)", name, n, missing)
		}
	}
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

func TestAnAPIKeysAuditLinesNameItByIDNeverByValue(t *testing.T) {
	f := newAPIKeyFixture(t)
	var mu sync.Mutex
	var lines []string
	h := f.server(t, Config{Log: funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, prefix+" "+args)
	}, funcr.Options{})})
	use := func(id, path string) {
		serve(t, h, request("GET", "/auth"+path, "Authorization", "Bearer "+f.values[id]), "")
	}
	for range 3 {
		use("ak-staff", "/api/v1/tasks")    // the first use of the hour is logged, once
		use("ak-disabled", "/api/v1/tasks") // a refusal: once a minute
		use("ak-staff", "/api/v1/settings") // forbidden: once a minute
	}
	f.now = f.now.Add(61 * time.Second)
	use("ak-disabled", "/api/v1/tasks") // a minute later: logged, with the two not logged
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		`"msg"="API key used: the first request this hour at this replica" "apiKey"="key-ak-staff" "apiKeyID"="ak-staff"`,
		`"msg"="API key refused" "apiKey"="key-ak-disabled" "apiKeyID"="ak-disabled" "outcome"="disabled"`,
		`"msg"="API key refused" "apiKey"="key-ak-staff" "apiKeyID"="ak-staff" "outcome"="forbidden"`,
		`"msg"="API key refused" "apiKey"="key-ak-disabled" "apiKeyID"="ak-disabled" "outcome"="disabled"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d is\n%s\nwant it to hold\n%s", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[3], `"refusedUnloggedSinceLastLine"=2`) {
		t.Errorf("the line a minute later does not count the refusals not logged: %s", lines[3])
	}
	for _, l := range lines {
		for _, v := range f.values {
			if strings.Contains(l, v) || strings.Contains(l, apikey.Digest(v)) {
				t.Fatalf("a log line holds a key or its digest: %s", l)
			}
		}
	}
}
