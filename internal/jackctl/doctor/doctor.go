// Package doctor is the plugin's `doctor`: it checks an installation the
// way a platform engineer would by hand — the operator's Deployment and
// version, its elected leader, the webhook configurations' caBundle against
// the webhook certificate, the certificate's expiry, the webhook Service's
// endpoints, the CRDs the API server serves, the SigningKeys of a namespace,
// its JackUsers' propagation and the sidecar versions of its pods — and prints each as OK or PROBLEM
// with the fix. The names it checks (webhook configurations, Secret,
// Service, Lease) are read from the operator's own flags on its Deployment.
//
// Used by cmd/kubectl-jack.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/jackctl/install"
)

// CertificateWarning is how close to its expiry the webhook serving
// certificate is reported.
const CertificateWarning = 30 * 24 * time.Hour

// Run checks the installation and the namespace, printing one line per
// check, and returns how many problems it found; the caller says what the
// count means (the plugin: a closing line, and its exit code), so that it is
// said once. cfg reaches the API
// server's discovery, for the CRDs it serves; nil skips that check.
func Run(ctx context.Context, c client.Client, cfg *rest.Config, namespace string, out io.Writer) (int, error) {
	r := &report{out: out, now: time.Now()}
	ops, err := install.Find(ctx, c)
	switch {
	case errors.Is(err, install.ErrNotFound):
		r.problem("operator: not found", "install it: helm install jack-operator charts/jack-operator -n jack-system --create-namespace (docs/install.md)")
	case err != nil:
		return r.problems, err
	}
	version := ""
	for _, op := range ops {
		if version == "" {
			version = op.Version
		}
		checks := []func(context.Context, client.Client, *install.Operator) error{r.deployment, r.leader, r.webhooks}
		for _, check := range checks {
			if err := check(ctx, c, op); err != nil {
				return r.problems, err
			}
		}
	}
	if cfg != nil {
		if err := r.crds(cfg); err != nil {
			return r.problems, err
		}
	}
	if err := r.signingKeys(ctx, c, namespace); err != nil {
		return r.problems, err
	}
	if err := r.users(ctx, c, namespace); err != nil {
		return r.problems, err
	}
	if err := r.sidecars(ctx, c, namespace, version); err != nil {
		return r.problems, err
	}
	return r.problems, nil
}

// report prints the checks' lines and counts the problems.
type report struct {
	out      io.Writer
	now      time.Time
	problems int
}

func (r *report) ok(format string, args ...any) {
	fmt.Fprintf(r.out, "OK       %s\n", fmt.Sprintf(format, args...))
}

func (r *report) problem(what, fix string) {
	r.problems++
	fmt.Fprintf(r.out, "PROBLEM  %s\n         fix: %s\n", what, fix)
}

func (r *report) warn(what, fix string) {
	fmt.Fprintf(r.out, "WARNING  %s\n         fix: %s\n", what, fix)
}

// crds checks that the API server serves every kind of the group at
// v1alpha1.
func (r *report) crds(cfg *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	gv := jack.Group + "/" + jack.Version
	want := []string{jack.ResourceJackUsers, jack.ResourceSigningKeys, jack.ResourceTokenRevocations, jack.ResourceJackAPIKeys}
	var served []string
	list, err := dc.ServerResourcesForGroupVersion(gv)
	if err == nil {
		for _, res := range list.APIResources {
			served = append(served, res.Name)
		}
	}
	var missing []string
	for _, w := range want {
		if !slices.Contains(served, w) {
			missing = append(missing, w+"."+jack.Group)
		}
	}
	if len(missing) > 0 {
		r.problem(fmt.Sprintf("CRDs: the API server does not serve %s at %s", strings.Join(missing, ", "), gv),
			"install the CRDs of the operator's version: a helm upgrade of the release installs them (unless crds.install=false), or kubectl apply --server-side -f charts/jack-operator/files/crds from the chart of that version (docs/install.md)")
		return nil
	}
	r.ok("CRDs: %s served at %s", strings.Join(want, ", "), gv)
	return nil
}
