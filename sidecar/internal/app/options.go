// Package app is the sidecar's command line: options, their completion and
// checks, and Run, which wires the files, the stores and the servers.
//
// Used by the sidecar's main.go alone.
package app

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jack-io/jack-operator/sidecar/internal/server"
)

// Options are the serve command's flags.
type Options struct {
	Listen          string
	MetricsListen   string
	KeysFile        string
	UsersFile       string
	PolicyFile      string
	Upstream        string
	RevocationsFile string
	SigningKey      string
	APICredentials  string
	APIServer       string
	TLSCertFile     string
	TLSKeyFile      string
	ShutdownTimeout time.Duration
	// LogoutConfirmTimeout bounds how long a logout waits, with API
	// credentials, for every replica to confirm it refuses the token.
	LogoutConfirmTimeout time.Duration
	// Limits bound slow and greedy clients (limits.go).
	Limits
	// PasswordChecks bound argon2id work and its memory (memory.go).
	PasswordChecks

	ForwardAuth          string
	TrustedProxies       stringList
	StripHeaders         stringList
	MaxInFlightPerClient int
}

// stringList is a flag that takes a comma-separated list, and may repeat.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Listen, "listen", ":8080", "Address of the auth API, /auth and the proxy.")
	fs.StringVar(&o.MetricsListen, "metrics-listen", ":9090", "Address of /metrics, /healthz and /readyz.")
	fs.StringVar(&o.KeysFile, "keys", "/var/run/jack-auth/keys/keyring.json", "The key ring file (a SigningKey's Secret, mounted).")
	fs.StringVar(&o.UsersFile, "users", "/var/run/jack-auth/users/users.json.gz", "The user directory file (the namespace's jack-user-directory Secret, mounted).")
	fs.StringVar(&o.PolicyFile, "policy", "", "The role policy file; empty for the built-in default (Jack's seed table).")
	fs.StringVar(&o.Upstream, "upstream", "", "Jack's URL (e.g. http://127.0.0.1:3000) to proxy verified requests to; empty to serve only the auth API and /auth.")
	fs.StringVar(&o.RevocationsFile, "revocations", "", "File keeping sessions refreshed, logged out or ended for reuse (by session id), and logged-out ids of tokens from before sessions, across restarts; empty keeps them in memory only.")
	fs.StringVar(&o.SigningKey, "signing-key", "", "The SigningKey whose key ring this sidecar serves; logouts and refreshes are shared with the other sidecars of the same SigningKey.")
	fs.StringVar(&o.APICredentials, "api-credentials", "", "Directory with a service account token, ca.crt and namespace for the API server (the webhook projects one). Set, the sidecar watches JackUsers and shares logouts across replicas; empty, it relies on its mounted files alone.")
	fs.StringVar(&o.APIServer, "api-server", "", "The API server's URL; empty for the in-cluster address (KUBERNETES_SERVICE_HOST and _PORT). Only with --api-credentials.")
	fs.StringVar(&o.TLSCertFile, "tls-cert", "", "Serve the main address over TLS with this certificate (and --tls-key).")
	fs.StringVar(&o.TLSKeyFile, "tls-key", "", "The key of --tls-cert.")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "How long requests in flight may finish after SIGTERM.")
	fs.DurationVar(&o.LogoutConfirmTimeout, "logout-confirm-timeout", defaultLogoutConfirmTimeout, "With --api-credentials, how long a logout waits for every replica to confirm it refuses the token "+
		"before it answers 503 LOGOUT_UNCONFIRMED (the token stays refused here, and the logout is shared when the API server answers); 1s to 60s.")
	fs.StringVar(&o.ForwardAuth, "forward-auth", string(server.DialectAuto), "Where /auth reads the original request: nginx (X-Original-Method, X-Original-URI or -URL), "+
		"traefik (X-Forwarded-Method, X-Forwarded-Uri), envoy (the path after /auth), or auto (whichever one a request carries; several are refused).")
	fs.Var(&o.TrustedProxies, "trusted-proxies", "Addresses or CIDRs of the gateways in front of the sidecar (comma-separated, may repeat). Set, only they may ask /auth, "+
		"and the client address for throttling is what they report in X-Forwarded-For; empty, the connecting address is the client.")
	fs.Var(&o.StripHeaders, "strip-header", "More request header names that claim an identity (comma-separated, may repeat): removed from proxied requests and refused at /auth, "+
		"in any case and with _ for -, like X-Jack-User-Id, X-Forwarded-User and X-Auth-Request-*.")
	o.Limits.AddFlags(fs)
	o.PasswordChecks.AddFlags(fs)
	fs.IntVar(&o.MaxInFlightPerClient, "max-in-flight-per-client", 128, "Requests of one client address served at once; more are answered 429.")
}

// Completed options have been checked and resolved.
type Completed struct {
	Options
	UpstreamURL *url.URL
	Dialect     server.Dialect
	Trusted     server.TrustedProxies
}

// Complete checks the options and resolves what they name, with an error a
// user can act on.
func (o Options) Complete() (*Completed, error) {
	c := &Completed{Options: o}
	var errs []error
	if o.KeysFile == "" {
		errs = append(errs, errors.New("--keys is required: the key ring file"))
	}
	if o.UsersFile == "" {
		errs = append(errs, errors.New("--users is required: the user directory file"))
	}
	if o.APICredentials != "" && o.SigningKey == "" {
		errs = append(errs, errors.New("--signing-key is required with --api-credentials: it names whose logouts to share"))
	}
	if o.APIServer != "" {
		if o.APICredentials == "" {
			errs = append(errs, errors.New("--api-server needs --api-credentials"))
		}
		if u, err := url.Parse(o.APIServer); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("--api-server %q must be an https URL such as https://10.96.0.1:443", o.APIServer))
		}
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if o.Upstream != "" {
		u, err := url.Parse(o.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--upstream %q must be an http(s) URL such as http://127.0.0.1:3000", o.Upstream))
		}
		c.UpstreamURL = u
	}
	var err error
	if c.Dialect, err = server.ParseDialect(o.ForwardAuth); err != nil {
		errs = append(errs, fmt.Errorf("--forward-auth: %w", err))
	}
	if c.Trusted, err = server.ParseTrustedProxies(o.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
	}
	for _, h := range o.StripHeaders {
		if !headerName(h) {
			errs = append(errs, fmt.Errorf("--strip-header %q is not a header name", h))
		}
	}
	if err := o.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.PasswordChecks.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.MaxInFlightPerClient < 1 {
		errs = append(errs, errors.New("--max-in-flight-per-client must be at least 1"))
	}
	if o.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("--shutdown-timeout must not be negative"))
	}
	if err := checkLogoutConfirmTimeout(o.LogoutConfirmTimeout); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// defaultLogoutConfirmTimeout leaves room for the operator's confirmation
// round (a sidecar's watch delivering the revocation, each asked with a 2 s
// wait) plus its status write, well above the tens of milliseconds it
// takes when every replica is healthy.
const defaultLogoutConfirmTimeout = 5 * time.Second

// checkLogoutConfirmTimeout bounds --logout-confirm-timeout: under a second
// a healthy confirmation would time out under load, and past a minute a
// client (and the connection it holds) would wait longer than any client
// waits for a logout.
func checkLogoutConfirmTimeout(d time.Duration) error {
	if d < time.Second || d > time.Minute {
		return fmt.Errorf("--logout-confirm-timeout %s must be between 1s and 60s: it is how long a logout waits for every replica to confirm it", d)
	}
	return nil
}

// headerName reports whether s is a header field name: an HTTP token.
func headerName(s string) bool {
	for _, c := range s {
		if c > '~' || c <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	return s != ""
}
