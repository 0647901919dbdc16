package gateways

import (
	"net/url"
	"testing"
)

// TestOneCredentialPerRequest sends two credentials in every way a client
// can, through each gateway: a request is decided on one credential or
// refused, and a token in a URL is never looked at, however it is
// spelt.
func TestOneCredentialPerRequest(t *testing.T) {
	forEachGateway(t, func(t *testing.T, st *stack) {
		staffTok, adminTok := st.token(t, staff), st.token(t, admin)
		cases := map[string]struct {
			target string
			header []field
			// as is whose token the request may be decided on, if any.
			as *user
		}{
			"two Authorization headers, staff then admin":  {"/api/v1/settings", h("Authorization", "Bearer "+staffTok, "Authorization", "Bearer "+adminTok), nil},
			"two Authorization headers, admin then staff":  {"/api/v1/settings", h("Authorization", "Bearer "+adminTok, "Authorization", "Bearer "+staffTok), nil},
			"two Authorization headers in other cases":     {"/api/v1/settings", h("authorization", "Bearer "+staffTok, "AUTHORIZATION", "Bearer "+adminTok), nil},
			"two Authorization headers, the same token":    {"/api/v1/tasks", h("Authorization", "Bearer "+staffTok, "Authorization", "Bearer "+staffTok), nil},
			"an empty Authorization, then admin's":         {"/api/v1/settings", h("Authorization", "", "Authorization", "Bearer "+adminTok), nil},
			"two tokens in one Authorization":              {"/api/v1/settings", h("Authorization", "Bearer "+staffTok+", Bearer "+adminTok), nil},
			"a token and Basic in one Authorization":       {"/api/v1/settings", h("Authorization", "Bearer "+adminTok+", Basic YTpi"), nil},
			"Authorization and X-Api-Key":                  {"/api/v1/settings", h("Authorization", "Bearer "+staffTok, "X-Api-Key", adminTok), nil},
			"Authorization and X-Auth-Token":               {"/api/v1/settings", h("Authorization", "Bearer "+staffTok, "X-Auth-Token", adminTok), nil},
			"Authorization and X-Access-Token":             {"/api/v1/settings", h("Authorization", "Bearer "+staffTok, "X-Access-Token", adminTok), nil},
			"Authorization and Api-Key":                    {"/api/v1/settings", h("Authorization", "Bearer "+staffTok, "Api-Key", adminTok), nil},
			"Authorization and x_api_key":                  {"/api/v1/settings", h("Authorization", "Bearer "+staffTok, "x_api_key", adminTok), &staff},
			"an access_token query alone":                  {"/api/v1/settings?access_token=" + adminTok, nil, nil},
			"an access_token query beside staff's header":  {"/api/v1/settings?access_token=" + adminTok, h("Authorization", "Bearer "+staffTok), nil},
			"an access_token query on an allowed route":    {"/api/v1/tasks?access_token=" + staffTok, h("Authorization", "Bearer "+staffTok), nil},
			"an encoded access_token name":                 {"/api/v1/settings?access%5Ftoken=" + adminTok, nil, nil},
			"an access_token array":                        {"/api/v1/settings?access_token[]=" + adminTok, nil, nil},
			"an access_token after a ;":                    {"/api/v1/settings?a=1;access_token=" + adminTok, nil, nil},
			"an access_token in the web app's URL":         {"/index.html?access_token=" + adminTok, nil, nil},
			"a token in a cookie is not a credential":      {"/api/v1/settings", h("Cookie", "token="+url.QueryEscape(adminTok)), nil},
			"Proxy-Authorization is not a credential":      {"/api/v1/settings", h("Proxy-Authorization", "Bearer "+adminTok), nil},
			"a lower-case scheme is still staff's token":   {"/api/v1/tasks", h("Authorization", "bearer "+staffTok), &staff},
			"staff's token with admin's in X-Original-URI": {"/api/v1/tasks", h("Authorization", "Bearer "+staffTok, "X-Original-URI", "/api/v1/tasks?access_token="+adminTok), &staff},
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				a := st.send(t, request{Method: "GET", Target: c.target, Header: c.header})
				got := st.check(t, c.as, a)
				if got == reachedJack && c.as == nil && inAPI(c.target) {
					t.Errorf("%s: reached Jack", a)
				}
				t.Logf("%s: %s: %s", st.gw.name, name, a.summary())
			})
		}
	})
}
