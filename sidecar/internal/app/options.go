// Package app is the sidecar's command line: options, their completion and
// checks, and Run, which wires the files, the stores and the servers.
package app

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"
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
	TLSCertFile     string
	TLSKeyFile      string
	ShutdownTimeout time.Duration
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Listen, "listen", ":8080", "Address of the auth API, /auth and the proxy.")
	fs.StringVar(&o.MetricsListen, "metrics-listen", ":9090", "Address of /metrics, /healthz and /readyz.")
	fs.StringVar(&o.KeysFile, "keys", "/var/run/jack-auth/keys/keyring.json", "The key ring file (a SigningKey's Secret, mounted).")
	fs.StringVar(&o.UsersFile, "users", "/var/run/jack-auth/users/users.json.gz", "The user directory file (the namespace's jack-user-directory Secret, mounted).")
	fs.StringVar(&o.PolicyFile, "policy", "", "The role policy file; empty for the built-in default (Jack's seed table).")
	fs.StringVar(&o.Upstream, "upstream", "", "Jack's URL (e.g. http://127.0.0.1:3000) to proxy verified requests to; empty to serve only the auth API and /auth.")
	fs.StringVar(&o.RevocationsFile, "revocations", "", "File keeping logged-out token ids across restarts; empty keeps them in memory only.")
	fs.StringVar(&o.TLSCertFile, "tls-cert", "", "Serve the main address over TLS with this certificate (and --tls-key).")
	fs.StringVar(&o.TLSKeyFile, "tls-key", "", "The key of --tls-cert.")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "How long requests in flight may finish after SIGTERM.")
}

// Completed options have been checked and resolved.
type Completed struct {
	Options
	UpstreamURL *url.URL
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
	if o.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("--shutdown-timeout must not be negative"))
	}
	return c, errors.Join(errs...)
}
