package inject

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/jack-io/jack-operator/api/jack"
)

// DefaultNamespaceSelector selects the namespaces labelled
// auth.jack.io/injection=enabled: the chart's default namespaceSelector.
func DefaultNamespaceSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{jack.LabelInjection: jack.InjectionEnabled})
}

// DefaultObjectSelector selects the pods labelled auth.jack.io/inject=true:
// the chart's default objectSelector.
func DefaultObjectSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{jack.LabelInject: jack.InjectRequested})
}

// PodSelector is the selector of the pods that may be injected: Config's
// ObjectSelector, or the default. The operator caches the pods it selects,
// which are the injected ones and the ones the missed-injection detector
// looks at.
func (c Config) PodSelector() labels.Selector {
	if c.ObjectSelector == nil {
		return DefaultObjectSelector()
	}
	return c.ObjectSelector
}

// namespaceSelector is Config's NamespaceSelector, or the default.
func (c Config) namespaceSelector() labels.Selector {
	if c.NamespaceSelector == nil {
		return DefaultNamespaceSelector()
	}
	return c.NamespaceSelector
}

// ParseSelector reads a label selector in either of the two forms the
// operator's flags take: kubectl's (auth.jack.io/inject=true,
// tier in (web,api)), or a metav1.LabelSelector in JSON, as Kubernetes
// objects and the chart's values spell it
// ({"matchLabels":{"auth.jack.io/inject":"true"}}). An empty string, or
// {}, selects everything.
func ParseSelector(v string) (labels.Selector, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "{") {
		sel, err := labels.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("%s is not a label selector such as %s=%s: %w", quote(v), jack.LabelInject, jack.InjectRequested, err)
		}
		return sel, nil
	}
	var ls metav1.LabelSelector
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ls); err != nil {
		return nil, fmt.Errorf("%s is not a JSON LabelSelector with matchLabels and matchExpressions: %w", quote(v), err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, fmt.Errorf("the LabelSelector %s is invalid: %w", quote(v), err)
	}
	return sel, nil
}

// addSelectorFlags registers --injection-namespace-selector and
// --injection-object-selector.
func (c *Config) addSelectorFlags(fs *flag.FlagSet) {
	fs.Func("injection-namespace-selector", fmt.Sprintf("The namespaces whose pods may be injected: the pod injection webhook's namespaceSelector, as a label selector (%s) or a JSON LabelSelector. "+
		"kube-system, kube-public, kube-node-lease and the operator's namespace are never injected.", DefaultNamespaceSelector()), func(v string) error {
		sel, err := ParseSelector(v)
		if err == nil {
			c.NamespaceSelector = sel
		}
		return err
	})
	fs.Func("injection-object-selector", fmt.Sprintf("The pods that ask for the sidecar: the pod injection webhook's objectSelector, as a label selector (%s) or a JSON LabelSelector.", DefaultObjectSelector()), func(v string) error {
		sel, err := ParseSelector(v)
		if err == nil {
			c.ObjectSelector = sel
		}
		return err
	})
}

// validateSelectors says what is wrong with the selectors.
func (c Config) validateSelectors() []error {
	if c.ObjectSelector != nil && c.ObjectSelector.Empty() {
		return []error{fmt.Errorf("the injection object selector selects every pod; it must name at least one label, such as %s=%s, "+
			"or the webhook configuration sends every pod of the selected namespaces to the operator", jack.LabelInject, jack.InjectRequested)}
	}
	return nil
}

// describe names a selector in a message; "every" for one that selects
// everything.
func describe(s labels.Selector) string {
	if s.Empty() {
		return "(every)"
	}
	return s.String()
}
