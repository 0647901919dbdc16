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
		setIdentity(w.Header(), &ex.id)
	} else {
		clearIdentity(w.Header())
	}
	w.WriteHeader(http.StatusOK)
}

// setIdentity sets the identity headers. The names are already in canonical
// form, so the map is written directly, with one allocation for all values:
// this runs on every request.
func setIdentity(h http.Header, id *Identity) {
	v := [...]string{id.User.ID, id.User.Email, string(id.User.Role)}
	vals := v[:]
	h[jack.HeaderUserID] = vals[0:1:1]
	h[jack.HeaderUserEmail] = vals[1:2:2]
	h[jack.HeaderUserRole] = vals[2:3:3]
	h[jack.HeaderAuthRequestUser] = vals[0:1:1]
	h[jack.HeaderAuthRequestEmail] = vals[1:2:2]
}

// empty is one empty header value; net/http never modifies a value slice.
var empty = []string{""}

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
		setIdentity(r.Header, &ex.id)
	}
	// The server's read deadline bounds the bodies the sidecar reads
	// itself; an upload to Jack may take longer, within Jack's own limits
	// and the per-client bounds on requests and connections.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	s.upstream.ServeHTTP(w, r)
}
