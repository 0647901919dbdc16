package rbac

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/jack-io/jack-operator/internal/operator"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// runningOperator is the operator's manager, built by
// internal/operator as main builds it, running as the chart's
// ServiceAccount.
type runningOperator struct {
	// options are what the operator parsed from its command line.
	options   operator.Options
	forbidden *forbiddenRecorder
	elected   <-chan struct{}
	stop      func() error
}

// startOperator parses the Deployment's arguments, then a few of the test's
// own that only move the operator's listeners to where the test reaches
// them, and starts the manager.
func (in *chartInstall) startOperator(t *testing.T) *runningOperator {
	t.Helper()
	for k, v := range in.env {
		t.Setenv(k, v) // before AddFlags, which reads the defaults
	}
	var o operator.Options
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	o.AddFlags(fs)
	args := append(slices.Clone(in.args),
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--webhook-host=127.0.0.1", fmt.Sprintf("--webhook-port=%d", in.webhookPort),
		// The rewritten webhook configurations dial an address, not the
		// Service's name: the serving certificate must be for it too.
		"--webhook-cert-ip-sans=127.0.0.1")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the operator refuses the chart's arguments %v: %v", in.args, err)
	}
	setLogger(o.Zap)

	rec := &forbiddenRecorder{}
	cfg := rest.CopyConfig(in.adminConfig)
	cfg.Impersonate = in.identity()
	cfg.WrapTransport = rec.wrap
	c, err := o.Complete()
	if err != nil {
		t.Fatalf("the operator refuses the chart's arguments %v: %v", in.args, err)
	}
	// Each test runs its own operator in this process: the second would
	// otherwise be refused its controllers' names.
	mgr, err := c.NewManager(cfg, func(o *ctrl.Options) { o.Controller.SkipNameValidation = ptr.To(true) })
	if err != nil {
		t.Fatalf("building the operator from the chart's arguments: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return &runningOperator{options: o, forbidden: rec, elected: mgr.Elected(), stop: stop}
}

// forbiddenRecorder records every 403 the API server answers the operator:
// whatever the client (cache, writes, events, leader election, the webhook
// certificates' own cache), and whether or not the operator logs it.
type forbiddenRecorder struct {
	mu   sync.Mutex
	seen []string
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (f *forbiddenRecorder) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusForbidden {
			return resp, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var status metav1.Status
		msg := status.Message
		if json.Unmarshal(body, &status) != nil || status.Message == "" {
			msg = fmt.Sprintf("%q", body[:min(len(body), 300)]) // not JSON: as it came
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.seen = append(f.seen, fmt.Sprintf("%s %s: %s", req.Method, req.URL.Path, msg))
		return resp, nil
	})
}

// since returns the 403s recorded after the first n.
func (f *forbiddenRecorder) since(n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen[min(n, len(f.seen)):])
}

func (f *forbiddenRecorder) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// operatorLogs holds everything the operator logged in this process.
var (
	operatorLogs  testenv.Buffer
	setLoggerOnce sync.Once
)

// setLogger sends controller-runtime's logs, at the chart's level, to
// operatorLogs. controller-runtime takes a logger once per process.
func setLogger(opts zap.Options) {
	setLoggerOnce.Do(func() {
		ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts), zap.WriteTo(&operatorLogs)))
	})
}

// forbiddenLogLines are the operator's log lines, from offset on, that say
// the API server refused it something.
func forbiddenLogLines(offset int) []string {
	var lines []string
	for _, l := range strings.Split(operatorLogs.String()[offset:], "\n") {
		if strings.Contains(strings.ToLower(l), "forbidden") {
			lines = append(lines, l)
		}
	}
	return lines
}

// withoutStacktraces shortens JSON log lines for a failure message.
func withoutStacktraces(logs string) string {
	lines := strings.Split(logs, "\n")
	for i, l := range lines {
		if at := strings.Index(l, `,"stacktrace":`); at >= 0 {
			lines[i] = l[:at] + "}"
		}
	}
	return strings.Join(lines, "\n")
}
