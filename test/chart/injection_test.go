package chart

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/jack-io/jack-operator/webhooks/inject"
)

// The operator decides with the very selectors the API server uses to send
// it pods: the chart renders both from webhook.podInjection, so a pod the
// webhook configuration selects is never skipped by the decision for
// lacking the default labels.
func TestTheOperatorDecidesWithTheWebhookConfigurationsSelectors(t *testing.T) {
	for _, set := range []string{"default", "custom selectors"} {
		t.Run(set, func(t *testing.T) {
			objs := render(t, valueSets[set])
			hook := injectionWebhook(t, objs)
			cfg := operatorInjection(t, objs)

			// The webhook configuration's selectors, less the namespaces the
			// chart excludes by name, which the operator never injects either.
			nsSel := labelSelector(t, hook["namespaceSelector"])
			var own []metav1.LabelSelectorRequirement
			for _, r := range nsSel.MatchExpressions {
				if r.Key != corev1.LabelMetadataName {
					own = append(own, r)
				}
			}
			nsSel.MatchExpressions = own
			wantNS, err := metav1.LabelSelectorAsSelector(nsSel)
			if err != nil {
				t.Fatal(err)
			}
			wantPod, err := metav1.LabelSelectorAsSelector(labelSelector(t, hook["objectSelector"]))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NamespaceSelector.String() != wantNS.String() {
				t.Errorf("the operator's namespace selector is %q, the webhook configuration's %q", cfg.NamespaceSelector, wantNS)
			}
			if cfg.ObjectSelector.String() != wantPod.String() {
				t.Errorf("the operator's object selector is %q, the webhook configuration's %q", cfg.ObjectSelector, wantPod)
			}
		})
	}

	// With the custom selectors, a pod they select is injected.
	cfg := operatorInjection(t, render(t, valueSets["custom selectors"]))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "jack", "env": "prod"}}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jack-0", Namespace: "shop", Labels: map[string]string{"app": "jack-worker"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jack", Image: "jack:1"}}},
	}
	if d := inject.Decide(pod, ns, []string{"jack"}, cfg); d.Action != inject.Inject {
		t.Errorf("a pod the custom selectors select is not injected: %s", d)
	}
}

// operatorInjection is the injection configuration the operator gets from
// the rendered Deployment's selector flags, checked as Complete checks it.
func operatorInjection(t *testing.T, objs []*unstructured.Unstructured) inject.Config {
	t.Helper()
	cfg := inject.DefaultConfig()
	cfg.Version, cfg.OperatorNamespace = "test", namespace
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	cfg.AddFlags(fs)
	var args []string
	for _, a := range containerArgs(t, find(t, objs, "Deployment", "jack-operator")) {
		if strings.HasPrefix(a, "--injection-") {
			args = append(args, a)
		}
	}
	if len(args) != 2 {
		t.Fatalf("the operator gets %d injection selector flags, want 2: %v", len(args), args)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the operator refuses the chart's selectors: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func labelSelector(t *testing.T, v any) *metav1.LabelSelector {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var s metav1.LabelSelector
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}
