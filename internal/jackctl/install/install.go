// Package install finds the installed jack-operator — its Deployment, in
// whatever namespace the chart or config/ put it — and reads the operator's
// settings from that Deployment's arguments with the operator's own flag
// parsing (internal/operator.Options.AddFlags), so that what the plugin
// concludes about injection, webhooks and leader election is what the
// running operator does, not a second guess.
//
// Used by cmd/kubectl-jack (through explain and doctor).
package install

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/internal/operator"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// Labels the chart and config/default put on the operator's Deployment.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelVersion   = "app.kubernetes.io/version"
	Name           = "jack-operator"
	Component      = "operator"
	// ContainerName is the operator's container in the Deployment.
	ContainerName = "operator"
)

// ErrNotFound: no operator Deployment in any namespace.
var ErrNotFound = errors.New("no jack-operator Deployment (labels " + LabelName + "=" + Name + ", " + LabelComponent + "=" + Component +
	") in any namespace: install the operator (docs/install.md), or check that you may list Deployments in every namespace")

// Operator is one installed operator.
type Operator struct {
	Deployment *appsv1.Deployment
	// Options are the operator's settings, parsed from the Deployment's
	// arguments as the operator parses them.
	Options operator.Options
	// Version is the operator's version: its image's tag, or the
	// Deployment's app.kubernetes.io/version label when the image has none.
	Version string
}

// Namespace is the operator's own namespace (--operator-namespace, which
// the chart leaves to POD_NAMESPACE: the Deployment's).
func (o *Operator) Namespace() string { return o.Options.Namespace }

// InjectConfig is the injection webhook's configuration as the operator
// builds it in Complete: the --sidecar-* and --injection-* flags, its
// version and namespace.
func (o *Operator) InjectConfig() inject.Config {
	cfg := o.Options.Sidecar
	cfg.Version, cfg.OperatorNamespace = o.Version, o.Options.Namespace
	return cfg
}

// Find lists the installed operators, sorted by namespace and name. It
// returns ErrNotFound when there is none.
func Find(ctx context.Context, c client.Reader) ([]*Operator, error) {
	var list appsv1.DeploymentList
	if err := c.List(ctx, &list, client.MatchingLabels{LabelName: Name, LabelComponent: Component}); err != nil {
		return nil, fmt.Errorf("listing Deployments labelled %s=%s in every namespace: %w", LabelName, Name, err)
	}
	if len(list.Items) == 0 {
		return nil, ErrNotFound
	}
	slices.SortFunc(list.Items, func(a, b appsv1.Deployment) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	out := make([]*Operator, 0, len(list.Items))
	for i := range list.Items {
		o, err := FromDeployment(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// FromDeployment reads an operator Deployment's settings.
func FromDeployment(d *appsv1.Deployment) (*Operator, error) {
	c := container(d)
	if c == nil {
		return nil, fmt.Errorf("Deployment %s/%s has no container", d.Namespace, d.Name)
	}
	var opts operator.Options
	fs := flag.NewFlagSet(Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts.AddFlags(fs)
	// The operator's namespace defaults to $POD_NAMESPACE, which the
	// Deployment sets to its own (a fieldRef), not to the plugin's.
	if err := fs.Set("operator-namespace", d.Namespace); err != nil {
		return nil, err
	}
	args := slices.Clone(c.Args)
	if len(c.Command) > 1 {
		args = append(slices.Clone(c.Command[1:]), args...)
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("the arguments of Deployment %s/%s are not the operator's: %w", d.Namespace, d.Name, err)
	}
	v := ImageTag(c.Image)
	if v == "" {
		v = d.Labels[LabelVersion]
	}
	return &Operator{Deployment: d, Options: opts, Version: v}, nil
}

func container(d *appsv1.Deployment) *corev1.Container {
	cs := d.Spec.Template.Spec.Containers
	for i := range cs {
		if cs[i].Name == ContainerName {
			return &cs[i]
		}
	}
	if len(cs) > 0 {
		return &cs[0]
	}
	return nil
}

// ImageTag is the tag of an image reference — "0.1.0" of
// "registry:5000/jack/jack-operator:0.1.0@sha256:…" — or "" when it has
// none.
func ImageTag(image string) string {
	ref, _, _ := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[colon+1:]
	}
	return ""
}
