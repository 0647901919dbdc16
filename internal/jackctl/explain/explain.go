// Package explain is the plugin's `inject explain`: it answers "will this
// pod get the jack-auth sidecar, and why (not)?" by running the operator's
// own injection decision (webhooks/inject.Decide) against the live objects
// — the pod, or the pod a Deployment's template makes, its namespace, the
// namespace's SigningKeys — with the injection settings read from the
// installed operator's Deployment, and printing what the decision looked
// at and what it concluded.
//
// Used by cmd/kubectl-jack.
package explain

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers"
	"github.com/jack-io/jack-operator/internal/jackctl/install"
	"github.com/jack-io/jack-operator/internal/operator"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// Explain prints the injection decision for target in namespace: "pod/NAME",
// "deployment/NAME", or a pod's bare NAME.
func Explain(ctx context.Context, c client.Client, namespace, target string, out io.Writer) error {
	in, err := read(ctx, c, namespace, target)
	if err != nil {
		return err
	}
	ops, err := install.Find(ctx, c)
	switch {
	case errors.Is(err, install.ErrNotFound):
		fmt.Fprintf(out, "Operator:     not found (%v); deciding with the operator's default settings\n", err)
		ops = []*install.Operator{defaults()}
	case err != nil:
		return err
	}
	ops = responsible(ops, namespace)
	for i, op := range ops {
		if i > 0 {
			fmt.Fprintln(out)
		}
		in.op = op
		Write(out, in)
	}
	return nil
}

// Input is what a decision is made from.
type Input struct {
	// Pod is the pod, or the would-be pod of a Deployment's template.
	Pod *corev1.Pod
	// Deployment names the Deployment the pod is made from; empty for a pod.
	Deployment string
	// Namespace is the pod's namespace; nil when it does not exist.
	Namespace *corev1.Namespace
	// SigningKeys are the names of the namespace's SigningKeys, with their
	// Secrets.
	SigningKeys map[string]string
	op          *install.Operator
}

// ParseTarget splits "pod/NAME", "deployment/NAME" (and kubectl's other
// spellings of those kinds) or a bare pod NAME.
func ParseTarget(target string) (kind, name string, err error) {
	kind, name, found := strings.Cut(target, "/")
	if !found {
		kind, name = "pod", target
	}
	switch strings.ToLower(kind) {
	case "pod", "pods", "po":
		kind = "pod"
	case "deployment", "deployments", "deploy", "deployment.apps", "deployments.apps":
		kind = "deployment"
	default:
		return "", "", fmt.Errorf("inject explain takes pod/NAME, deployment/NAME or a pod's NAME, not %q", target)
	}
	if name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("inject explain takes pod/NAME, deployment/NAME or a pod's NAME, not %q", target)
	}
	return kind, name, nil
}

func read(ctx context.Context, c client.Client, namespace, target string) (*Input, error) {
	kind, name, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	in := &Input{}
	if kind == "pod" {
		in.Pod = &corev1.Pod{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, in.Pod); err != nil {
			return nil, fmt.Errorf("reading pod %s in namespace %s: %w", name, namespace, err)
		}
	} else {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return nil, fmt.Errorf("reading deployment %s in namespace %s: %w", name, namespace, err)
		}
		in.Pod, in.Deployment = PodFromTemplate(d), d.Name
	}
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return nil, fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	in.Namespace = ns
	var keys authv1alpha1.SigningKeyList
	if err := c.List(ctx, &keys, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing the SigningKeys of namespace %s: %w", namespace, err)
	}
	in.SigningKeys = map[string]string{}
	for i := range keys.Items {
		in.SigningKeys[keys.Items[i].Name] = keys.Items[i].SecretName()
	}
	return in, nil
}

// PodFromTemplate is the pod a Deployment's ReplicaSet creates, as the
// injection webhook sees it at admission: in the Deployment's namespace,
// not yet named, with the template's labels, annotations and spec.
func PodFromTemplate(d *appsv1.Deployment) *corev1.Pod {
	t := d.Spec.Template.DeepCopy()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, GenerateName: d.Name + "-", Labels: t.Labels, Annotations: t.Annotations},
		Spec:       t.Spec,
	}
}

// defaults is an operator with every flag at its default, for a cluster
// where none is found.
func defaults() *install.Operator {
	var o operator.Options
	fs := flag.NewFlagSet("defaults", flag.ContinueOnError)
	o.AddFlags(fs)
	_ = fs.Parse(nil)
	o.Namespace = ""
	return &install.Operator{Options: o, Version: "(unknown)"}
}

// responsible are the operators that may inject in namespace: those
// watching it, or every namespace. When none does, all of them are
// explained, each saying why it does not inject there.
func responsible(ops []*install.Operator, namespace string) []*install.Operator {
	var out []*install.Operator
	for _, o := range ops {
		if len(o.Options.WatchNamespaces) == 0 || slices.Contains(o.Options.WatchNamespaces, namespace) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return ops
	}
	return out
}

// Write prints the decision about in.Pod by in's operator: what it looked
// at, one line each, then the result.
func Write(out io.Writer, in *Input) {
	pod, op := in.Pod, in.op
	cfg := op.InjectConfig()
	secrets := in.SigningKeys
	cfg.SecretNameFor = func(k string) string { return secrets[k] }
	line := func(label, format string, args ...any) {
		fmt.Fprintf(out, "%-13s %s\n", label+":", fmt.Sprintf(format, args...))
	}

	if in.Deployment != "" {
		line("Target", "deployment %s/%s: a pod of its template, as the API server admits it", pod.Namespace, in.Deployment)
	} else {
		line("Target", "pod %s/%s", pod.Namespace, pod.Name)
	}
	if op.Deployment != nil {
		line("Operator", "deployment %s/%s, version %s", op.Deployment.Namespace, op.Deployment.Name, op.Version)
	}
	if !op.Options.Webhooks {
		line("Webhook", "the operator runs with --enable-webhooks=false, so it injects no pod")
		line("Result", "skip: no injection webhook is served")
		return
	}
	if w := op.Options.WatchNamespaces; len(w) > 0 && !slices.Contains(w, pod.Namespace) {
		line("Namespace", "%s is not among the namespaces the operator watches (--watch-namespaces=%s)", pod.Namespace, strings.Join(w, ","))
		line("Result", "skip: the operator lets every pod outside its namespaces through untouched")
		return
	}
	nsSel := cfg.NamespaceSelector
	if nsSel == nil {
		nsSel = inject.DefaultNamespaceSelector()
	}
	nsLabels := map[string]string{}
	if in.Namespace != nil {
		nsLabels = in.Namespace.Labels
	}
	line("Namespace", "%s, labels %s: %s the injection namespace selector %s", pod.Namespace, showLabels(nsLabels), matches(nsSel, nsLabels), nsSel)
	line("Pod labels", "%s: %s the injection object selector %s", showLabels(pod.Labels), matches(cfg.PodSelector(), pod.Labels), cfg.PodSelector())
	if v := pod.Annotations[jack.AnnotationSigningKey]; v != "" {
		line("Signing key", "the pod names SigningKey %q (%s)", v, jack.AnnotationSigningKey)
	}
	line("SigningKeys", "%s", showKeys(secrets))
	injectedBy := pod.Annotations[jack.AnnotationInjectedVersion]
	hasSidecar := hasSidecar(pod)
	if injectedBy != "" || hasSidecar {
		line("Injected", "%s=%s, sidecar container %s", jack.AnnotationInjectedVersion, orNone(injectedBy), map[bool]string{true: "present", false: "absent"}[hasSidecar])
	}

	d := inject.Decide(pod, in.Namespace, slices.Sorted(maps.Keys(secrets)), cfg)
	line("Decision", "%s (%s): %s", d.Action, d.Reason, d.Message)
	line("Result", "%s", Result(in.Deployment != "", injectedBy, hasSidecar, op.Version, d))
}

// Result is the one-line verdict: will inject / skip: why / already
// injected by version X, and what to do about a pod that exists already.
func Result(template bool, injectedBy string, hasSidecar bool, version string, d inject.Decision) string {
	switch {
	case injectedBy != "" && hasSidecar:
		r := "already injected by operator version " + injectedBy
		if injectedBy != version {
			r += fmt.Sprintf("; the operator is version %s now, so a restarted pod gets its sidecar (kubectl rollout restart of its workload)", version)
		}
		return r
	case template && d.Action == inject.Inject:
		return "will inject: " + d.Message
	case template && d.Action == inject.Refuse:
		return "refuse: the API server will refuse its pods: " + d.Message
	case d.Action == inject.Skip:
		return "skip: " + d.Message
	case d.Action == inject.Inject:
		return "will inject a pod like it; this one runs without the sidecar. " + controllers.MissingSidecarMessage(d)
	}
	return "refuse: a pod like it is refused now. " + controllers.MissingSidecarMessage(d)
}

func matches(sel labels.Selector, set map[string]string) string {
	if sel.Matches(labels.Set(set)) {
		return "matches"
	}
	return "does not match"
}

func showLabels(m map[string]string) string {
	if len(m) == 0 {
		return "(none)"
	}
	return labels.Set(m).String()
}

func showKeys(secrets map[string]string) string {
	if len(secrets) == 0 {
		return "none in the namespace"
	}
	return strings.Join(slices.Sorted(maps.Keys(secrets)), ", ")
}

func hasSidecar(p *corev1.Pod) bool {
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			if c.Name == jack.SidecarContainerName {
				return true
			}
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
