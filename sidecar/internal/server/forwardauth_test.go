package server

import (
	"net/http"
	"testing"

	"github.com/jack-io/jack-operator/api/jack"
)

// Each case is a request a gateway (or an attacker behind it) sends to
// /auth; want is the status, and the error code unless it is 200.
type forwardCase struct {
	dialect Dialect
	method  string
	target  string
	headers []string // name, value pairs; a name may repeat
	role    jack.Role
	want    int
	code    string
}

func TestForwardAuthTakesTheOriginalRequestFromExactlyOneSource(t *testing.T) {
	const (
		nginx, traefik, envoy, auto = DialectNginx, DialectTraefik, DialectEnvoy, DialectAuto
		ok, bad, ambiguous          = http.StatusOK, "BAD_REQUEST", "AMBIGUOUS_REQUEST"
	)
	cases := map[string]forwardCase{
		// Each dialect's own request.
		"nginx asks about a staff GET of tasks": {nginx, "GET", "/auth", []string{"X-Original-Method", "GET", "X-Original-URI", "/api/v1/tasks"}, jack.RoleStaff, ok, ""},
		"nginx asks with a full X-Original-URL": {nginx, "GET", "/auth", []string{"X-Original-Method", "GET", "X-Original-URL", "https://jack.example.com/api/v1/tasks?page=2"}, jack.RoleStaff, ok, ""},
		"traefik asks about a staff GET":        {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks/7"}, jack.RoleStaff, ok, ""},
		"envoy asks with the path after /auth":  {envoy, "DELETE", "/auth/api/v1/tasks/7?x=1", nil, jack.RoleStaff, ok, ""},
		"auto takes nginx alone":                {auto, "GET", "/auth", []string{"X-Original-Method", "GET", "X-Original-URI", "/api/v1/tasks"}, jack.RoleStaff, ok, ""},
		"auto takes traefik alone":              {auto, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks"}, jack.RoleStaff, ok, ""},
		"auto takes envoy alone":                {auto, "GET", "/auth/api/v1/tasks", nil, jack.RoleStaff, ok, ""},

		// The decision is on the original request, not on /auth's.
		"nginx: staff may not reach settings": {nginx, "GET", "/auth", []string{"X-Original-Method", "GET", "X-Original-URI", "/api/v1/settings"}, jack.RoleStaff, 403, "FORBIDDEN"},
		"envoy: staff may not reach settings": {envoy, "GET", "/auth/api/v1/settings", nil, jack.RoleStaff, 403, "FORBIDDEN"},

		// A client adds another dialect's headers, which the gateway passes on
		// to /auth and to Jack: whatever the dialect, they are refused.
		"nginx refuses a client's X-Forwarded-Uri": {nginx, "GET", "/auth", []string{"X-Original-Method", "GET", "X-Original-URI", "/api/v1/settings", "X-Forwarded-Uri", "/"}, jack.RoleStaff, 400, ambiguous},
		"traefik refuses a client's X-Original-URI pointing at a public page": {traefik, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/settings", "X-Original-Uri", "/"}, "", 400, ambiguous},
		"traefik refuses a client's X-Original-Method GET on a DELETE": {traefik, "GET", "/auth",
			[]string{"X-Forwarded-Method", "DELETE", "X-Forwarded-Uri", "/api/v1/users/7", "X-Original-Method", "GET"}, jack.RoleManager, 400, ambiguous},
		"traefik refuses X-Original-URL, which PHP frameworks route by": {traefik, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/index.html", "X-Original-Url", "/api/v1/settings"}, "", 400, ambiguous},
		"traefik refuses X-Rewrite-URL": {traefik, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks", "X-Rewrite-Url", "/api/v1/settings"}, jack.RoleStaff, 400, ambiguous},
		"traefik refuses its own header spelled with underscores": {traefik, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks", "x_forwarded_uri", "/api/v1/settings"}, jack.RoleStaff, 400, ambiguous},
		"traefik refuses X_Original_URL": {traefik, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/index.html", "X_Original_URL", "/api/v1/settings"}, "", 400, ambiguous},
		"nginx refuses X_Original_Method with underscores": {nginx, "GET", "/auth",
			[]string{"X-Original-Method", "GET", "X-Original-URI", "/api/v1/tasks", "x_original_method", "DELETE"}, jack.RoleStaff, 400, ambiguous},
		"envoy refuses any of them":                      {envoy, "GET", "/auth/api/v1/tasks", []string{"X-Original-Url", "/api/v1/settings"}, jack.RoleStaff, 400, ambiguous},
		"auto refuses X-Rewrite-URL beside envoy's path": {auto, "GET", "/auth/index.html", []string{"X-Rewrite-Url", "/api/v1/settings"}, "", 400, ambiguous},
		"auto refuses nginx and traefik headers together": {auto, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/settings", "X-Original-Uri", "/"}, jack.RoleAdmin, 400, ambiguous},
		"auto refuses a lone foreign method header": {auto, "GET", "/auth",
			[]string{"X-Forwarded-Method", "DELETE", "X-Forwarded-Uri", "/api/v1/tasks", "X-Original-Method", "GET"}, jack.RoleStaff, 400, ambiguous},
		"auto refuses a path after /auth beside headers": {auto, "GET", "/auth/api/v1/tasks",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks"}, jack.RoleStaff, 400, ambiguous},
		"auto refuses an empty foreign header too": {auto, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks", "X-Original-Url", ""}, jack.RoleStaff, 400, ambiguous},

		// Repeated copies of the same dialect.
		"traefik refuses two X-Forwarded-Uri": {traefik, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks", "X-Forwarded-Uri", "/api/v1/settings"}, jack.RoleStaff, 400, ambiguous},
		"traefik refuses two X-Forwarded-Method": {traefik, "GET", "/auth",
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Method", "DELETE", "X-Forwarded-Uri", "/api/v1/tasks"}, jack.RoleStaff, 400, ambiguous},
		"nginx refuses X-Original-URI beside X-Original-URL": {nginx, "GET", "/auth",
			[]string{"X-Original-Method", "GET", "X-Original-URI", "/api/v1/tasks", "X-Original-URL", "https://jack/api/v1/settings"}, jack.RoleStaff, 400, ambiguous},
		"auto refuses two X-Original-Method": {auto, "GET", "/auth",
			[]string{"X-Original-Method", "GET", "X-Original-Method", "DELETE", "X-Original-URI", "/api/v1/tasks"}, jack.RoleStaff, 400, ambiguous},

		// What each configured dialect needs.
		"nginx needs the method":           {nginx, "GET", "/auth", []string{"X-Original-URI", "/api/v1/tasks"}, jack.RoleStaff, 400, bad},
		"nginx takes no path after /auth":  {nginx, "GET", "/auth/api/v1/tasks", []string{"X-Original-Method", "GET", "X-Original-URI", "/api/v1/tasks"}, jack.RoleStaff, 400, bad},
		"traefik needs the URI":            {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET"}, jack.RoleStaff, 400, bad},
		"traefik refuses an empty method":  {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "", "X-Forwarded-Uri", "/api/v1/tasks"}, jack.RoleStaff, 400, bad},
		"envoy needs a path after /auth":   {envoy, "GET", "/auth", []string{"X-Original-Method", "GET", "X-Original-URI", "/api/v1/tasks"}, jack.RoleStaff, 400, bad},
		"auto with nothing at all":         {auto, "GET", "/auth", nil, jack.RoleStaff, 400, bad},
		"a method that is not a token":     {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET /x", "X-Forwarded-Uri", "/api/v1/tasks"}, jack.RoleStaff, 400, bad},
		"a relative X-Original-URL":        {nginx, "GET", "/auth", []string{"X-Original-Method", "GET", "X-Original-URL", "/api/v1/tasks"}, jack.RoleStaff, 400, bad},
		"an absolute X-Forwarded-Uri":      {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "http://jack/api/v1/tasks"}, jack.RoleStaff, 400, bad},
		"an unclean original path":         {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks/../settings"}, jack.RoleStaff, 400, bad},
		"an encoded slash in envoy's path": {envoy, "GET", "/auth/api/v1/tasks/..%2Fsettings", nil, jack.RoleStaff, 400, bad},

		// Public paths pass without a token, with the identity cleared.
		"a public page needs no token":          {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/assets/app.js"}, "", ok, ""},
		"the API in upper case needs one":       {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/API/v1/settings"}, "", 401, "TOKEN_MISSING"},
		"the API with a suffix needs one":       {nginx, "GET", "/auth", []string{"X-Original-Method", "GET", "X-Original-URI", "/api.json"}, "", 401, "TOKEN_MISSING"},
		"staff reach tasks in upper case":       {envoy, "GET", "/auth/API/V1/TASKS", nil, jack.RoleStaff, ok, ""},
		"staff may not reach SETTINGS":          {envoy, "GET", "/auth/API/v1/SETTINGS", nil, jack.RoleStaff, 403, "FORBIDDEN"},
		"a manager may not reach Users/7":       {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "DELETE", "X-Forwarded-Uri", "/api/v1/Users/7"}, jack.RoleManager, 403, "FORBIDDEN"},
		"admin reach a suffixed settings":       {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/settings.json"}, jack.RoleAdmin, ok, ""},
		"a manager may not reach settings.json": {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/settings.json"}, jack.RoleManager, 403, "FORBIDDEN"},

		// The auth API is never decided at /auth.
		"the login at /auth":             {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/api/v1/auth/login"}, "", 421, "MISDIRECTED_REQUEST"},
		"the logout at /auth":            {nginx, "GET", "/auth", []string{"X-Original-Method", "POST", "X-Original-URI", "/api/v1/auth/logout"}, jack.RoleAdmin, 421, "MISDIRECTED_REQUEST"},
		"the refresh in upper case":      {envoy, "POST", "/auth/API/V1/AUTH/REFRESH", nil, jack.RoleStaff, 421, "MISDIRECTED_REQUEST"},
		"another auth path at /auth":     {envoy, "POST", "/auth/api/v1/auth/login.json", nil, jack.RoleAdmin, 421, "MISDIRECTED_REQUEST"},
		"the auth API's root at /auth":   {envoy, "GET", "/auth/api/v1/auth", nil, jack.RoleAdmin, 421, "MISDIRECTED_REQUEST"},
		"the auth API with a format ext": {envoy, "GET", "/auth/api/v1/auth.json/logout", nil, jack.RoleAdmin, 421, "MISDIRECTED_REQUEST"},

		// Method overrides name a second method.
		"a method override header":                 {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/api/v1/tasks", "X-HTTP-Method-Override", "DELETE"}, jack.RoleStaff, 400, ambiguous},
		"a method override with underscores":       {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/api/v1/tasks", "x_http_method", "DELETE"}, jack.RoleStaff, 400, ambiguous},
		"a method override naming the same method": {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/api/v1/tasks", "X-Method-Override", "POST"}, jack.RoleStaff, ok, ""},
		"a _method query parameter":                {traefik, "GET", "/auth", []string{"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/api/v1/tasks/7?_method=DELETE"}, jack.RoleStaff, 400, ambiguous},
		"an encoded _method query parameter":       {envoy, "POST", "/auth/api/v1/tasks/7?a=1&%5Fmethod=DELETE", nil, jack.RoleStaff, 400, ambiguous},
		"a _method array parameter":                {envoy, "POST", "/auth/api/v1/tasks/7?_method[]=DELETE", nil, jack.RoleStaff, 400, ambiguous},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { tc.run(t) })
	}
}

func (tc forwardCase) run(t *testing.T) {
	t.Helper()
	tm := newTeam(t)
	h := newServer(t, tm, Config{ForwardAuth: tc.dialect})
	headers := tc.headers
	if tc.role != "" {
		headers = append([]string{"Authorization", "Bearer " + tm.tokens[tc.role]}, headers...)
	}
	w, env := serve(t, h, request(tc.method, tc.target, headers...), "")
	if w.Code != tc.want || (tc.code != "" && env.Error.Code != tc.code) {
		t.Fatalf("got %d %s (%s), want %d %s", w.Code, env.Error.Code, env.Error.Message, tc.want, tc.code)
	}
	if w.Code != http.StatusOK {
		return
	}
	for _, name := range jack.IdentityHeaders {
		v, ok := w.Header()[name]
		if !ok || len(v) != 1 {
			t.Errorf("the answer's %s is %q: every identity header must be set (or cleared) exactly once", name, v)
		}
	}
	if want := tm.ids[tc.role]; w.Header().Get(jack.HeaderUserID) != want {
		t.Errorf("the answer says the user is %q, want %q", w.Header().Get(jack.HeaderUserID), want)
	}
}

func TestForwardAuthRefusesIdentityHeadersInAnySpelling(t *testing.T) {
	for name, header := range map[string]string{
		"the sidecar's own header":            "X-Jack-User-Id",
		"in lower case with underscores":      "x_jack_user_role",
		"in upper case with underscores":      "X_JACK_USER_EMAIL",
		"mixed separators":                    "X-Jack_User-Id",
		"a member of the sidecar's family":    "X-Jack-User-Groups",
		"oauth2-proxy's user":                 "X-Auth-Request-User",
		"oauth2-proxy's family":               "X-Auth-Request-Preferred-Username",
		"oauth2-proxy's forwarded user":       "X-Forwarded-User",
		"a forwarded email with underscores":  "x_forwarded_email",
		"a forwarded preferred username":      "X-Forwarded-Preferred-Username",
		"the remote user of kube and Apache":  "X-Remote-User",
		"a remote group":                      "X-Remote-Group",
		"a bare Remote-User":                  "Remote-User",
		"a bare remote_user with underscores": "remote_user",
		"the kind of caller":                  "X-Jack-User-Kind",
		"an API key's id":                     "X-Jack-User-Api-Key-Id",
		"an API key's id with underscores":    "x_jack_user_api_key_id",
	} {
		t.Run(name, func(t *testing.T) {
			forwardCase{DialectTraefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks", header, "admin-1"},
				jack.RoleStaff, 400, "FORGED_IDENTITY"}.run(t)
		})
	}
	t.Run("even on a public page", func(t *testing.T) {
		forwardCase{DialectTraefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/", "X-Jack-User-Role", "admin"},
			"", 400, "FORGED_IDENTITY"}.run(t)
	})
	t.Run("a configured name", func(t *testing.T) {
		tm := newTeam(t)
		h := newServer(t, tm, Config{ForwardAuth: DialectEnvoy, StripHeaders: []string{"Jack-Tenant"}})
		w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+tm.tokens[jack.RoleStaff], "jack_tenant", "acme"), "")
		if w.Code != 400 || env.Error.Code != "FORGED_IDENTITY" {
			t.Fatalf("got %d %s", w.Code, env.Error.Code)
		}
	})
	t.Run("headers that merely look alike pass", func(t *testing.T) {
		for _, header := range []string{"X-Auth-Request-Redirect", "x_auth_request_redirect", "X-Jack-Request-Id", "X-Forwarded-For", "X-Request-Id", "Referer", "X-Auth-Requests", "X-Remote-Users-Count"} {
			forwardCase{DialectTraefik, "GET", "/auth", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks", header, "1"},
				jack.RoleStaff, 200, ""}.run(t)
		}
	})
}

func TestForwardAuthRefusesAmbiguousCredentials(t *testing.T) {
	tm := newTeam(t)
	staff, admin := "Bearer "+tm.tokens[jack.RoleStaff], "Bearer "+tm.tokens[jack.RoleAdmin]
	original := []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/api/v1/tasks"}
	for name, tc := range map[string]struct {
		headers []string
		uri     string
		want    int
		code    string
	}{
		"two Authorization headers":                   {[]string{"Authorization", staff, "Authorization", admin}, "", 400, "AMBIGUOUS_CREDENTIALS"},
		"two Authorization headers, one empty":        {[]string{"Authorization", staff, "Authorization", ""}, "", 400, "AMBIGUOUS_CREDENTIALS"},
		"two credentials in one header":               {[]string{"Authorization", staff + ", " + admin}, "", 400, "AMBIGUOUS_CREDENTIALS"},
		"a bearer token and an API key header":        {[]string{"Authorization", staff, "X-Api-Key", "k"}, "", 400, "AMBIGUOUS_CREDENTIALS"},
		"a bearer token and an auth token":            {[]string{"Authorization", staff, "x_auth_token", "k"}, "", 400, "AMBIGUOUS_CREDENTIALS"},
		"a bearer token and an access token":          {[]string{"Authorization", staff, "X-Access-Token", "k"}, "", 400, "AMBIGUOUS_CREDENTIALS"},
		"a token in the query":                        {nil, "/api/v1/tasks?access_token=" + tm.tokens[jack.RoleAdmin], 400, "AMBIGUOUS_CREDENTIALS"},
		"a bearer token and a token in the query":     {[]string{"Authorization", staff}, "/api/v1/tasks?x=1&access_token=a", 400, "AMBIGUOUS_CREDENTIALS"},
		"an encoded token name in the query":          {[]string{"Authorization", staff}, "/api/v1/tasks?access%5Ftoken=a", 400, "AMBIGUOUS_CREDENTIALS"},
		"one bearer token":                            {[]string{"Authorization", staff}, "", 200, ""},
		"an API key header alone is no credential":    {[]string{"X-Api-Key", "k"}, "", 401, "TOKEN_MISSING"},
		"a query parameter merely named like a token": {[]string{"Authorization", staff}, "/api/v1/tasks?my_access_token_count=1", 200, ""},
	} {
		t.Run(name, func(t *testing.T) {
			h := newServer(t, tm, Config{ForwardAuth: DialectTraefik})
			headers := append([]string{}, original...)
			if tc.uri != "" {
				headers[3] = tc.uri
			}
			w, env := serve(t, h, request("GET", "/auth", append(headers, tc.headers...)...), "")
			if w.Code != tc.want || env.Error.Code != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", w.Code, env.Error.Code, env.Error.Message, tc.want, tc.code)
			}
		})
	}
}

func TestForwardAuthAnswersOnlyTrustedProxies(t *testing.T) {
	tm := newTeam(t)
	trusted, _ := ParseTrustedProxies([]string{"10.0.0.0/8", "192.168.1.7"})
	h := newServer(t, tm, Config{ForwardAuth: DialectEnvoy, TrustedProxies: trusted})
	for addr, want := range map[string]int{
		"10.1.2.3:5000":       200,
		"192.168.1.7:5000":    200,
		"192.168.1.8:5000":    403,
		"127.0.0.1:5000":      403,
		"[::ffff:10.0.0.1]:1": 200,
		"[2001:db8::1]:443":   403,
	} {
		w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+tm.tokens[jack.RoleStaff]), addr)
		if w.Code != want || (want == 403 && env.Error.Code != "UNTRUSTED_PROXY") {
			t.Errorf("from %s: got %d %s, want %d", addr, w.Code, env.Error.Code, want)
		}
	}
}
