package gateways

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/jack-io/jack-operator/api/jack"
)

// Envoy has no binary here, so these tests hold the sidecar to Envoy's
// ext_authz HTTP contract instead: Envoy asks path_prefix + the original
// path and query, with the original method, the headers allowed_headers
// lets through, and Content-Length: 0; a 2xx lets the request through with
// allowed_upstream_headers copied onto it; anything else goes back to the
// client with its status and body.

// envoyAuthz is the ext_authz HTTP service of docs/gateways/envoy.yaml.
type envoyAuthz struct {
	PathPrefix           string `json:"path_prefix"`
	AuthorizationRequest struct {
		AllowedHeaders matchers `json:"allowed_headers"`
	} `json:"authorization_request"`
	AuthorizationResponse struct {
		AllowedUpstreamHeaders matchers `json:"allowed_upstream_headers"`
		AllowedClientHeaders   matchers `json:"allowed_client_headers"`
	} `json:"authorization_response"`
}

type matchers struct {
	Patterns []struct {
		Exact     string `json:"exact"`
		SafeRegex struct {
			Regex string `json:"regex"`
		} `json:"safe_regex"`
	} `json:"patterns"`
}

func (m matchers) exact() []string {
	var out []string
	for _, p := range m.Patterns {
		if p.Exact != "" {
			out = append(out, p.Exact)
		}
	}
	slices.Sort(out)
	return out
}

// TestTheDocumentedEnvoyConfigurationAsksAsTheSidecarExpects reads
// docs/gateways/envoy.yaml: ext_authz asks the sidecar under /auth, passes
// every client header (so forged ones are refused, not forwarded), and
// copies exactly the five identity headers to Jack.
func TestTheDocumentedEnvoyConfigurationAsksAsTheSidecarExpects(t *testing.T) {
	conf := render(t, "envoy.yaml", envoyConfig{ListenHost: "0.0.0.0", ListenPort: 8000, SidecarHost: "127.0.0.1", SidecarPort: 8080, JackHost: "127.0.0.1", JackPort: 3000})
	var doc struct {
		StaticResources struct {
			Listeners []struct {
				FilterChains []struct {
					Filters []struct {
						TypedConfig struct {
							HTTPFilters []struct {
								Name        string `json:"name"`
								TypedConfig struct {
									HTTPService envoyAuthz `json:"http_service"`
								} `json:"typed_config"`
							} `json:"http_filters"`
						} `json:"typed_config"`
					} `json:"filters"`
				} `json:"filter_chains"`
			} `json:"listeners"`
		} `json:"static_resources"`
	}
	if err := yaml.Unmarshal([]byte(conf), &doc); err != nil {
		t.Fatalf("docs/gateways/envoy.yaml: %v", err)
	}
	var authz *envoyAuthz
	for _, l := range doc.StaticResources.Listeners {
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				for _, hf := range f.TypedConfig.HTTPFilters {
					if hf.Name == "envoy.filters.http.ext_authz" {
						authz = &hf.TypedConfig.HTTPService
					}
				}
			}
		}
	}
	if authz == nil {
		t.Fatal("docs/gateways/envoy.yaml has no ext_authz http_service")
	}
	if authz.PathPrefix != "/auth" {
		t.Errorf("path_prefix = %q, want /auth", authz.PathPrefix)
	}
	var want []string
	for _, h := range jack.IdentityHeaders {
		want = append(want, strings.ToLower(h))
	}
	slices.Sort(want)
	if got := authz.AuthorizationResponse.AllowedUpstreamHeaders.exact(); !slices.Equal(got, want) {
		t.Errorf("allowed_upstream_headers = %v, want the five identity headers %v", got, want)
	}
	all := false
	for _, p := range authz.AuthorizationRequest.AllowedHeaders.Patterns {
		all = all || p.SafeRegex.Regex == ".*"
	}
	if !all {
		t.Errorf("allowed_headers does not pass every client header to /auth")
	}
	if got := authz.AuthorizationResponse.AllowedClientHeaders.exact(); !slices.Contains(got, "retry-after") || !slices.Contains(got, "content-type") {
		t.Errorf("allowed_client_headers = %v, want content-type and retry-after with a refusal", got)
	}
}

type envoyConfig struct {
	ListenHost  string
	ListenPort  int
	SidecarHost string
	SidecarPort int
	JackHost    string
	JackPort    int
}

// envoyStack is the sidecar asked directly, as Envoy asks it.
func envoyStack(t *testing.T, args ...string) *stack {
	t.Helper()
	st := &stack{gw: gateway{name: "envoy", dialect: "envoy"}, secrets: newSecrets(t), client: "127.0.0.1"}
	st.sidecar = startSidecar(t, st.secrets, append([]string{"--forward-auth=envoy", "--trusted-proxies=127.0.0.1/32"}, args...)...)
	st.addr = st.sidecar.addr
	return st
}

// envoyAsks is the check request Envoy sends for a client's request.
func envoyAsks(method, target string, header ...field) request {
	return request{Method: method, Target: "/auth" + target, From: "127.0.0.1",
		Header: append([]field{{"X-Request-Id", "4b1a6d2e"}, {"X-Envoy-Expected-Rq-Timeout-Ms", "1000"}, {"X-Forwarded-For", "192.0.2.7"}}, header...)}
}

// TestEnvoysCheckRequestsAreDecidedAsTheRequestsTheyDescribe walks the role
// table, the auth API, spellings and forgeries through the ext_authz HTTP
// contract.
func TestEnvoysCheckRequestsAreDecidedAsTheRequestsTheyDescribe(t *testing.T) {
	st := envoyStack(t)
	tok := map[string]string{}
	for _, u := range users {
		tok[u.id] = st.token(t, u)
	}
	t.Run("every role's routes", func(t *testing.T) {
		may := map[string][]string{admin.id: {"conversations", "tasks", "guests", "reports", "settings", "users"},
			manager.id: {"conversations", "tasks", "guests", "reports"}, staff.id: {"conversations", "tasks"}}
		for _, u := range users {
			for _, area := range []string{"conversations", "tasks", "guests", "reports", "settings", "users"} {
				for _, m := range []string{"GET", "POST", "DELETE", "HEAD"} {
					a := st.send(t, envoyAsks(m, "/api/v1/"+area+"/7?full=1", bearerOf(tok[u.id])))
					if slices.Contains(may[u.id], area) {
						if a.Status != 200 {
							t.Errorf("%s as %s: %s, want 200", m, u.role, a)
							continue
						}
						for h, v := range identityOf(u) {
							if got := a.Header.Values(h); len(got) != 1 || got[0] != v {
								t.Errorf("%s as %s: %s = %q, want %q", m, u.role, h, got, v)
							}
						}
					} else if a.Status != 403 || (m != "HEAD" && a.Envelope.Error.Code != "FORBIDDEN") {
						t.Errorf("%s as %s: %s, want 403 FORBIDDEN", m, u.role, a)
					}
				}
			}
		}
	})
	cases := map[string]struct {
		req    request
		status int
		code   string
	}{
		"no token on the API":                    {envoyAsks("GET", "/api/v1/tasks"), 401, "TOKEN_MISSING"},
		"the web app":                            {envoyAsks("GET", "/index.html"), 200, ""},
		"the web app with a query":               {envoyAsks("GET", "/assets/app.js?v=2"), 200, ""},
		"a token in the query":                   {envoyAsks("GET", "/api/v1/tasks?access_token="+tok[staff.id]), 400, "AMBIGUOUS_CREDENTIALS"},
		"two credentials":                        {envoyAsks("GET", "/api/v1/tasks", bearerOf(tok[staff.id]), field{"X-Api-Key", tok[admin.id]}), 400, "AMBIGUOUS_CREDENTIALS"},
		"two Authorization headers":              {envoyAsks("GET", "/api/v1/tasks", bearerOf(tok[staff.id]), bearerOf(tok[admin.id])), 400, "AMBIGUOUS_CREDENTIALS"},
		"a method override":                      {envoyAsks("POST", "/api/v1/tasks", bearerOf(tok[staff.id]), field{"X-HTTP-Method-Override", "DELETE"}), 400, "AMBIGUOUS_REQUEST"},
		"a forged identity":                      {envoyAsks("GET", "/api/v1/tasks", bearerOf(tok[staff.id]), field{"X-Jack-User-Role", "admin"}), 400, "FORGED_IDENTITY"},
		"a forged identity on the web app":       {envoyAsks("GET", "/index.html", field{"x-forwarded-user", "admin-1"}), 400, "FORGED_IDENTITY"},
		"the login":                              {envoyAsks("POST", "/api/v1/auth/login"), 421, "MISDIRECTED_REQUEST"},
		"the login in capitals":                  {envoyAsks("POST", "/API/V1/AUTH/LOGIN"), 421, "MISDIRECTED_REQUEST"},
		"another auth route":                     {envoyAsks("GET", "/api/v1/auth/me", bearerOf(tok[admin.id])), 421, "MISDIRECTED_REQUEST"},
		"settings in capitals as staff":          {envoyAsks("GET", "/API/V1/SETTINGS", bearerOf(tok[staff.id])), 403, "FORBIDDEN"},
		"settings with a slash as staff":         {envoyAsks("GET", "/api/v1/settings/", bearerOf(tok[staff.id])), 403, "FORBIDDEN"},
		"settings.json as staff":                 {envoyAsks("GET", "/api/v1/settings.json", bearerOf(tok[staff.id])), 403, "FORBIDDEN"},
		"settings.json as admin":                 {envoyAsks("GET", "/api/v1/settings.json", bearerOf(tok[admin.id])), 200, ""},
		"a traversal":                            {envoyAsks("GET", "/api/v1/tasks/../settings", bearerOf(tok[staff.id])), 400, "BAD_REQUEST"},
		"an encoded traversal":                   {envoyAsks("GET", "/api/v1/tasks/..%2Fsettings", bearerOf(tok[staff.id])), 400, "BAD_REQUEST"},
		"an encoded letter":                      {envoyAsks("GET", "/api/v1/%73ettings", bearerOf(tok[staff.id])), 400, "BAD_REQUEST"},
		"a double slash":                         {envoyAsks("GET", "//api/v1/settings", bearerOf(tok[staff.id])), 400, "BAD_REQUEST"},
		"a path parameter":                       {envoyAsks("GET", "/api/v1/tasks;/settings", bearerOf(tok[staff.id])), 400, "BAD_REQUEST"},
		"nothing after /auth":                    {request{Method: "GET", Target: "/auth", From: "127.0.0.1", Header: []field{bearerOf(tok[staff.id])}}, 400, "BAD_REQUEST"},
		"nginx's headers are not Envoy's":        {envoyAsks("DELETE", "/api/v1/settings", bearerOf(tok[staff.id]), field{"X-Original-URI", "/api/v1/tasks"}, field{"X-Original-Method", "GET"}), 400, "AMBIGUOUS_REQUEST"},
		"Traefik's headers are not Envoy's":      {envoyAsks("DELETE", "/api/v1/settings", field{"X-Forwarded-Uri", "/index.html"}, field{"X-Forwarded-Method", "GET"}), 400, "AMBIGUOUS_REQUEST"},
		"an untrusted peer":                      {request{Method: "GET", Target: "/auth/api/v1/tasks", From: "127.0.0.2", Header: []field{bearerOf(tok[staff.id])}}, 403, "UNTRUSTED_PROXY"},
		"an untrusted peer naming a trusted one": {request{Method: "GET", Target: "/auth/api/v1/tasks", From: "127.0.0.2", Header: []field{bearerOf(tok[staff.id]), {"X-Forwarded-For", "127.0.0.1"}}}, 403, "UNTRUSTED_PROXY"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a := st.send(t, c.req)
			if a.Status != c.status {
				t.Fatalf("%s, want %d %s", a, c.status, c.code)
			}
			if c.status == http.StatusOK {
				if strings.HasPrefix(c.req.Target, "/auth/index.html") || strings.HasPrefix(c.req.Target, "/auth/assets") {
					// A public path: the five headers present and empty, so
					// Envoy's copies clear a client's.
					for _, h := range jack.IdentityHeaders {
						if got := a.Header.Values(h); len(got) != 1 || got[0] != "" {
							t.Errorf("%s: %s = %q, want present and empty", a, h, got)
						}
					}
				}
				return
			}
			if !a.IsEnvelope || a.Envelope.Error.Code != c.code || a.Envelope.Error.Message == "" {
				t.Errorf("%s, want the envelope with %s", a, c.code)
			}
		})
	}
}
