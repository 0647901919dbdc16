package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/jack-io/jack-operator/api/jack"
)

// resources are the /api/v1/ collections jack-echo serves, one per row of
// Jack's role table (sidecar/internal/policy's default policy), so every rule has a
// route to be allowed or refused on.
var resources = []string{"conversations", "tasks", "guests", "reports", "settings", "users"}

// identity is who the sidecar says is calling, from its headers.
type identity struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// echo is what every /api/v1/ route answers, inside Jack's success envelope.
type echo struct {
	Resource string   `json:"resource"`
	Method   string   `json:"method"`
	Path     string   `json:"path"`
	User     identity `json:"user"`
	// Headers are every X-Jack-* and X-Auth-Request-* header jack-echo
	// received, so a test can tell a header the sidecar set from one a client
	// tried to forge.
	Headers map[string][]string `json:"headers"`
	// Pod is the host name, which in Kubernetes is the pod's name: with two
	// replicas a test can see which one answered.
	Pod string `json:"pod"`
}

type envelope struct {
	Success bool `json:"success"`
	Data    any  `json:"data,omitempty"`
	Error   any  `json:"error,omitempty"`
}

func newHandler(pod string) http.Handler {
	mux := http.NewServeMux()
	for _, r := range resources {
		h := resourceHandler(r, pod)
		mux.Handle("/api/v1/"+r, h)
		mux.Handle("/api/v1/"+r+"/", h)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, envelope{Error: map[string]string{
			"code": "NOT_FOUND", "message": "jack-echo serves /api/v1/{" + strings.Join(resources, ",") + "}",
		}})
	})
	return mux
}

func resourceHandler(resource, pod string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, envelope{Success: true, Data: echo{
			Resource: resource,
			Method:   r.Method,
			Path:     r.URL.Path,
			User: identity{
				ID:    r.Header.Get(jack.HeaderUserID),
				Email: r.Header.Get(jack.HeaderUserEmail),
				Role:  r.Header.Get(jack.HeaderUserRole),
			},
			Headers: identityHeaders(r.Header),
			Pod:     pod,
		}})
	})
}

// identityHeaders are the request's headers that claim an identity: the ones
// the sidecar sets, and any other X-Jack-* header.
func identityHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for name, values := range h {
		if strings.HasPrefix(name, "X-Jack-") || isIdentityHeader(name) {
			v := append([]string(nil), values...)
			sort.Strings(v)
			out[name] = v
		}
	}
	return out
}

func isIdentityHeader(name string) bool {
	for _, h := range jack.IdentityHeaders {
		if http.CanonicalHeaderKey(h) == name {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
