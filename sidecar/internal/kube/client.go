package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

const (
	// requestTimeout bounds a list or a create, answer included: a server
	// that accepts a connection and never answers must not hold the caller
	// forever.
	requestTimeout = 30 * time.Second
	// userAgent names the sidecar in the API server's audit log.
	userAgent = "jack-auth"
)

// Client talks to one API server as one identity. It is safe for concurrent
// use.
type Client struct {
	base      string // scheme://host[:port][/prefix], without a trailing slash
	namespace string
	// http bounds a whole request, answer included, by requestTimeout;
	// watchHTTP, sharing its connections, does not, since a watch lasts.
	http, watchHTTP *http.Client
	token           *tokenFile // nil: requests carry no token
}

// New builds a client. It reads the CA file and checks the token file now,
// so a wrong path fails at start.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("the API server's address %q is not an http(s) URL", cfg.Host)
	}
	if u.Scheme == "http" && cfg.TokenFile != "" {
		return nil, fmt.Errorf("refusing to send a bearer token to %s over plain http", cfg.Host)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the API server's CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	c := &Client{
		base:      strings.TrimSuffix(u.String(), "/"),
		namespace: cfg.Namespace,
	}
	transport := newTransport(tlsConfig)
	c.http = &http.Client{Transport: transport, Timeout: requestTimeout}
	c.watchHTTP = &http.Client{Transport: transport}
	if cfg.TokenFile != "" {
		c.token = newTokenFile(cfg.TokenFile, cfg.TokenReread)
		if _, err := c.token.get(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// newTransport is client-go's transport, in the parts that matter here:
// dial and handshake timeouts, TCP keep-alives, HTTP/2 with pings on a
// silent connection so a dead one ends its watches, and proxies from the
// environment.
func newTransport(tlsConfig *tls.Config) *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 4,
		ForceAttemptHTTP2:   true,
		HTTP2:               &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
}

// Namespace is the namespace of the Config, the pod's own with InCluster.
func (c *Client) Namespace() string { return c.namespace }

// CollectionPath is the API path of a namespaced collection: group "" is the
// core API (/api/v1/namespaces/ns/configmaps), any other a named group
// (/apis/auth.jack.io/v1alpha1/namespaces/ns/jackusers).
func CollectionPath(group, version, namespace, resource string) string {
	if group == "" {
		return "/api/" + version + "/namespaces/" + namespace + "/" + resource
	}
	return "/apis/" + group + "/" + version + "/namespaces/" + namespace + "/" + resource
}

// ListOptions narrow a list or a watch; the zero value asks for everything,
// at the most recent version.
type ListOptions struct {
	// LabelSelector and FieldSelector are Kubernetes selectors, like
	// "app=jack" and "metadata.name=alice".
	LabelSelector, FieldSelector string
	// ResourceVersion: a list returns a state not older than it ("" is the
	// most recent state, read through etcd's quorum); a watch sends the
	// changes after it ("" starts with a synthetic ADDED per object).
	ResourceVersion string
	// TimeoutSeconds asks the server to end a watch after that long.
	TimeoutSeconds int
	// AllowWatchBookmarks asks for BOOKMARK events, which advance a watch's
	// resourceVersion without a change, so resuming it stays cheap.
	AllowWatchBookmarks bool
}

func (o ListOptions) query(watch bool) url.Values {
	q := url.Values{}
	if o.LabelSelector != "" {
		q.Set("labelSelector", o.LabelSelector)
	}
	if o.FieldSelector != "" {
		q.Set("fieldSelector", o.FieldSelector)
	}
	if o.ResourceVersion != "" {
		q.Set("resourceVersion", o.ResourceVersion)
	}
	if watch {
		q.Set("watch", "true")
		if o.TimeoutSeconds > 0 {
			q.Set("timeoutSeconds", strconv.Itoa(o.TimeoutSeconds))
		}
		if o.AllowWatchBookmarks {
			q.Set("allowWatchBookmarks", "true")
		}
	}
	return q
}

// List is the shape of a list answer; decode one into a *List[T] of the
// caller's item type.
type List[T any] struct {
	Metadata ListMeta `json:"metadata"`
	Items    []T      `json:"items"`
}

// ListMeta is the part of a list's metadata a reader needs.
type ListMeta struct {
	// ResourceVersion is the version the list reflects: watch from it to
	// see every later change.
	ResourceVersion string `json:"resourceVersion"`
}

// List reads the collection at path into into, typically a *List[T].
func (c *Client) List(ctx context.Context, path string, opts ListOptions, into any) error {
	resp, err := c.do(ctx, c.http, "list", http.MethodGet, path, opts.query(false), nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeBody(ctx, "list", path, resp.Body, into)
}

// Get reads the object at path — a collection's path, "/", and the
// object's name — into into. An object that does not exist is an error for
// which IsNotFound is true.
func (c *Client) Get(ctx context.Context, path string, into any) error {
	resp, err := c.do(ctx, c.http, "get", http.MethodGet, path, nil, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeBody(ctx, "get", path, resp.Body, into)
}

// Create creates obj, encoded as JSON, in the collection at path. When obj
// is a pointer it is then overwritten with the object the server stored
// (its uid, resourceVersion and defaulted fields). An object that exists
// already is an error for which IsAlreadyExists is true.
func (c *Client) Create(ctx context.Context, path string, obj any) error {
	body, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encoding the object to create in %s: %w", path, err)
	}
	resp, err := c.do(ctx, c.http, "create", http.MethodPost, path, nil, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if v := reflect.ValueOf(obj); v.Kind() != reflect.Pointer || v.IsNil() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	return decodeBody(ctx, "create", path, resp.Body, obj)
}

// MergePatch changes the object at path with a JSON merge patch (RFC 7386),
// encoded from patch, and decodes the object the server stored into into
// (unless it is nil). A patch that sets metadata.resourceVersion applies
// only to that version of the object: when it changed since, the error is
// one for which IsConflict is true, and the caller rereads and retries. An
// object that does not exist is an error for which IsNotFound is true.
func (c *Client) MergePatch(ctx context.Context, path string, patch, into any) error {
	body, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encoding the patch of %s: %w", path, err)
	}
	resp, err := c.do(ctx, c.http, "patch", http.MethodPatch, path, nil, body, "application/merge-patch+json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if into == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	return decodeBody(ctx, "patch", path, resp.Body, into)
}

// do sends one request and returns the response of a success; anything else
// is a *StatusError, a *TransportError, or the context's error. A 401 makes
// the token file be read again, and the request is sent once more if it
// holds a different token.
func (c *Client) do(ctx context.Context, hc *http.Client, verb, method, path string, query url.Values, body []byte, contentType string) (*http.Response, error) {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	token := ""
	if c.token != nil {
		var err error
		if token, err = c.token.get(); err != nil {
			return nil, fmt.Errorf("%s %s: %w", verb, path, err)
		}
	}
	for retried := false; ; retried = true {
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", verb, path, err)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", userAgent)
		if body != nil {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, transportError(ctx, verb, path, err)
		}
		if resp.StatusCode < 300 {
			return resp, nil
		}
		if resp.StatusCode == http.StatusUnauthorized && c.token != nil && !retried {
			if newer, ok := c.token.refresh(token); ok {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
				resp.Body.Close()
				token = newer
				continue
			}
		}
		err = responseError(verb, path, resp)
		resp.Body.Close()
		return nil, err
	}
}

// transportError classifies a failure to get or read an answer: the
// caller's context ending is its own error, not the server's fault.
func transportError(ctx context.Context, verb, path string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", verb, path, ctxErr)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the whole URL
	}
	return &TransportError{Verb: verb, Path: path, Err: err}
}

// decodeBody decodes a JSON answer, telling a broken connection (a
// transport failure) from a body that does not decode into into.
func decodeBody(ctx context.Context, verb, path string, body io.Reader, into any) error {
	r := &readErr{r: body}
	if err := json.NewDecoder(r).Decode(into); err != nil {
		if r.err != nil {
			return transportError(ctx, verb, path, r.err)
		}
		return fmt.Errorf("%s %s: decoding the answer: %w", verb, path, err)
	}
	return nil
}

// readErr remembers the error of the reader beneath a decoder other than
// the end of the stream.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}
