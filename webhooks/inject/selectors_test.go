package inject

import (
	"flag"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

// The decision follows the selectors the operator is given, which are the
// webhook configuration's: a pod the API server sends because it matches
// custom selectors is injected, not skipped for lacking the default labels.
func TestDecideFollowsCustomSelectors(t *testing.T) {
	keys := []string{"blue"}
	tierWeb := func(p *corev1.Pod) { delete(p.Labels, jack.LabelInject); p.Labels["tier"] = "web" }
	teamNS := func(labels map[string]string) *corev1.Namespace { return namespace(testNamespace, labels) }
	cases := map[string]struct {
		nsSelector, podSelector string // flag values; "" keeps the default
		pod                     *corev1.Pod
		ns                      *corev1.Namespace
		action                  Action
		reason                  Reason
		says                    string
	}{
		"a pod matching a custom object selector, without the default label, is injected": {
			podSelector: "tier=web", pod: jackPod(tierWeb), ns: enabledNamespace(),
			action: Inject, reason: ReasonInjected,
		},
		"a pod in a namespace matching a custom namespace selector, without the default label, is injected": {
			nsSelector: "team in (shop,reports)", pod: jackPod(), ns: teamNS(map[string]string{"team": "shop"}),
			action: Inject, reason: ReasonInjected,
		},
		"both selectors in JSON, as the chart renders them, inject a pod matching both": {
			nsSelector:  `{"matchLabels":{"team":"shop"}}`,
			podSelector: `{"matchExpressions":[{"key":"tier","operator":"In","values":["web","api"]}]}`,
			pod:         jackPod(tierWeb), ns: teamNS(map[string]string{"team": "shop"}),
			action: Inject, reason: ReasonInjected,
		},
		"a pod with only the default label is skipped under a custom object selector, which the message names": {
			podSelector: "tier=web", pod: jackPod(), ns: enabledNamespace(),
			action: Skip, reason: ReasonNotOptedIn, says: "tier=web",
		},
		"a namespace with only the default label is skipped under a custom namespace selector, which the message names": {
			nsSelector: "team=shop", pod: jackPod(), ns: enabledNamespace(),
			action: Skip, reason: ReasonNamespaceNotEnabled, says: "team=shop",
		},
		"inject=false declines the sidecar even when a custom object selector matches": {
			podSelector: "tier=web", pod: jackPod(tierWeb, labelled(jack.LabelInject, jack.InjectDeclined)), ns: enabledNamespace(),
			action: Skip, reason: ReasonNotOptedIn, says: "declines",
		},
		"a protected namespace is never injected, whatever the namespace selector": {
			nsSelector: "team=shop", pod: jackPod(), ns: namespace("kube-system", map[string]string{"team": "shop"}),
			action: Skip, reason: ReasonProtectedNamespace,
		},
		"a pod asking under a custom selector is still refused for what keeps it from the sidecar": {
			podSelector: "tier=web", pod: jackPod(tierWeb, func(p *corev1.Pod) { p.Spec.HostNetwork = true }), ns: enabledNamespace(),
			action: Refuse, reason: ReasonHostNetwork,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := withSelectorFlags(t, tc.nsSelector, tc.podSelector)
			d := Decide(tc.pod, tc.ns, keys, cfg)
			if d.Action != tc.action || d.Reason != tc.reason || !strings.Contains(d.Message, tc.says) {
				t.Fatalf("decision %s, want %s (%s) saying %q", d, tc.action, tc.reason, tc.says)
			}
			if d.Action != Inject {
				return
			}
			if err := Mutate(tc.pod, d, cfg); err != nil {
				t.Fatal(err)
			}
			// The operator finds injected pods by the opt-in label, whatever chose them.
			if tc.pod.Labels[jack.LabelInject] != jack.InjectRequested {
				t.Errorf("an injected pod's labels are %v, without %s=%s", tc.pod.Labels, jack.LabelInject, jack.InjectRequested)
			}
			// And a second pass is a no-op under the same selectors.
			if again := Decide(tc.pod, tc.ns, keys, cfg); again.Reason != ReasonAlreadyInjected {
				t.Errorf("the injected pod decided again: %s", again)
			}
		})
	}
}

// withSelectorFlags is testConfig with the selector flags set as the chart
// would pass them; "" leaves one unset.
func withSelectorFlags(t *testing.T, nsSelector, podSelector string) Config {
	t.Helper()
	cfg := testConfig()
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	cfg.AddFlags(fs)
	var args []string
	if nsSelector != "" {
		args = append(args, "--injection-namespace-selector="+nsSelector)
	}
	if podSelector != "" {
		args = append(args, "--injection-object-selector="+podSelector)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestSelectorFlagsRefuseWhatTheWebhookCouldNotUse(t *testing.T) {
	for name, tc := range map[string]struct {
		flag, value, says string
	}{
		"a selector that does not parse":   {"injection-object-selector", "tier in (web", "not a label selector"},
		"JSON that is not a LabelSelector": {"injection-namespace-selector", `{"matchLabel":{"a":"b"}}`, "not a JSON LabelSelector"},
		"an unknown operator":              {"injection-object-selector", `{"matchExpressions":[{"key":"a","operator":"Near"}]}`, "invalid"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			fs := flag.NewFlagSet("operator", flag.ContinueOnError)
			fs.SetOutput(new(strings.Builder))
			cfg.AddFlags(fs)
			err := fs.Parse([]string{"--" + tc.flag + "=" + tc.value})
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("--%s=%s: error %v, want one saying %q", tc.flag, tc.value, err, tc.says)
			}
		})
	}
	// An object selector that selects every pod parses, and Validate refuses it.
	for _, v := range []string{"", "{}"} {
		cfg := withSelectorFlagsUnchecked(t, v)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "selects every pod") {
			t.Errorf("--injection-object-selector=%q: Validate says %v, want a refusal of an object selector that selects every pod", v, err)
		}
	}
}

func withSelectorFlagsUnchecked(t *testing.T, podSelector string) Config {
	t.Helper()
	cfg := testConfig()
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	cfg.AddFlags(fs)
	if err := fs.Parse([]string{"--injection-object-selector=" + podSelector}); err != nil {
		t.Fatal(err)
	}
	return cfg
}
