package kube

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultServiceAccountDir is where the kubelet mounts a pod's service
// account token when the pod automounts it. The injector mounts the
// sidecar's own projected token elsewhere and passes that directory to
// InCluster instead.
const DefaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// The files of a service account directory, as the kubelet projects them.
const (
	tokenFileName     = "token"
	caFileName        = "ca.crt"
	namespaceFileName = "namespace"
)

// defaultTokenReread is how long a token read from the file is used before
// the file is read again. The kubelet replaces a bound token when 80% of its
// lifetime (at least an hour) has passed, so 30 s is far ahead of expiry
// while costing one small read per half minute.
const defaultTokenReread = 30 * time.Second

// Config says where the API server is and how to authenticate to it.
type Config struct {
	// Host is the API server's base URL, like https://10.96.0.1:443. It must
	// be https when TokenFile is set, so a token never travels in clear.
	Host string
	// TokenFile holds the bearer token. It is read again when it may have
	// changed (see TokenReread) and after a 401. Empty sends no token.
	TokenFile string
	// CAFile holds the PEM certificates that verify the API server. Empty
	// uses the system's roots.
	CAFile string
	// Namespace is the pod's namespace, the one the sidecar works in.
	Namespace string
	// TokenReread is how long a token is used before TokenFile is read
	// again; 0 means 30 s.
	TokenReread time.Duration
}

// InCluster configures a client for a process in a pod: the API server from
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, and the token, ca.crt
// and namespace files of serviceAccountDir (DefaultServiceAccountDir for the
// automounted token). It fails when those are missing, so a misconfigured
// pod says so at start rather than at its first request.
func InCluster(serviceAccountDir string) (Config, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return Config{}, errors.New("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: the API server can only be found this way in a pod")
	}
	cfg := Config{
		Host:      "https://" + net.JoinHostPort(host, port),
		TokenFile: filepath.Join(serviceAccountDir, tokenFileName),
		CAFile:    filepath.Join(serviceAccountDir, caFileName),
	}
	for _, path := range []string{cfg.TokenFile, cfg.CAFile} {
		if _, err := os.Stat(path); err != nil {
			return Config{}, fmt.Errorf("the service account directory lacks a file: %w", err)
		}
	}
	ns, err := os.ReadFile(filepath.Join(serviceAccountDir, namespaceFileName))
	if err != nil {
		return Config{}, fmt.Errorf("reading the pod's namespace from the service account directory: %w", err)
	}
	cfg.Namespace = strings.TrimSpace(string(ns))
	if cfg.Namespace == "" {
		return Config{}, fmt.Errorf("the namespace file in %s is empty", serviceAccountDir)
	}
	return cfg, nil
}
