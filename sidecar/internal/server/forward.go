package server

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/api"
)

// answerForwardAuth tells a gateway that the original request may pass:
// 200 with every identity header, for it to copy to Jack. For a request
// that needs no token the headers are sent empty, so a gateway that copies
// them replaces whatever the client sent under those names.
func answerForwardAuth(w http.ResponseWriter, ex *exchange) {
	if ex.authenticated {
		setIdentity(w.Header(), &ex.id, true)
	} else {
		clearIdentity(w.Header())
	}
	w.WriteHeader(http.StatusOK)
}

// setIdentity sets the identity headers. The names are already in canonical
// form, so the map is written directly, with one allocation for all values
// (none for an API key, whose values are made once): this runs on every
// request. forward is true for /auth's answer, whose headers a gateway
// copies whether the sidecar sets them or not: those that do not apply are
// sent empty, so a copy replaces anything a client sent under their names.
// Forwarding itself, the sidecar sends Jack only those that apply (the
// client's own copies were removed).
func setIdentity(h http.Header, id *Identity, forward bool) {
	if k := id.Key; k != nil {
		h[jack.HeaderUserID] = k.HeaderUserID
		h[jack.HeaderUserRole] = k.HeaderRole
		h[jack.HeaderUserKind] = kindAPIKey
		h[jack.HeaderAPIKeyID] = k.HeaderKeyID
		h[jack.HeaderAuthRequestUser] = k.HeaderUserID
		if forward {
			h[jack.HeaderUserEmail] = empty
			h[jack.HeaderAuthRequestEmail] = empty
		}
		return
	}
	h[jack.HeaderUserKind] = kindUser
	if forward {
		h[jack.HeaderAPIKeyID] = empty
	}
	v := [...]string{id.User.ID, id.User.Email, string(id.User.Role)}
	vals := v[:]
	h[jack.HeaderUserID] = vals[0:1:1]
	h[jack.HeaderUserEmail] = vals[1:2:2]
	h[jack.HeaderUserRole] = vals[2:3:3]
	h[jack.HeaderAuthRequestUser] = vals[0:1:1]
	h[jack.HeaderAuthRequestEmail] = vals[1:2:2]
}

// empty is one empty header value; net/http never modifies a value slice.
var (
	empty      = []string{""}
	kindUser   = []string{jack.UserKindUser}
	kindAPIKey = []string{jack.UserKindAPIKey}
)

func clearIdentity(h http.Header) {
	for _, name := range jack.IdentityHeaders {
		h[name] = empty
	}
}

// newProxy forwards verified requests to Jack. The identity headers are set
// on the incoming request before (WithIdentityStripping removed the
// client's), and the outgoing request is a copy of it.
func (s *Server) newProxy(upstream *url.URL) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Error(err, "forwarding to Jack", "path", r.URL.Path)
			refuse(w, &api.Error{Code: api.CodeUpstreamUnavailable, Message: "Jack is not answering."})
		},
	}
}

// proxy forwards a request that passed the chain to Jack, as the user now is.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, ex *exchange) {
	if ex.authenticated {
		setIdentity(r.Header, &ex.id, false)
	}
	// The server's read deadline bounds the bodies the sidecar reads
	// itself; an upload to Jack may take longer, within Jack's own limits
	// and the per-client bounds on requests and connections.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	s.upstream.ServeHTTP(w, r)
}
