package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
)

// exactlyOneName refuses anything but one argument with a sentence naming
// what the argument is.
func exactlyOneName(verb, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("%s needs NAME, %s", verb, what)
		case len(args) > 1:
			return fmt.Errorf("%s takes one NAME, %s, not %d arguments", verb, what, len(args))
		}
		return nil
	}
}

// required refuses a flag left empty, saying what it takes.
func required(flag, value, what string) error {
	if value == "" {
		return fmt.Errorf("%s is required: %s", flag, what)
	}
	return nil
}

// roleCompletion completes --role with the roles a JackUser or JackAPIKey
// may have.
func roleCompletion(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	roles := make([]cobra.Completion, 0, len(jack.Roles))
	for _, r := range jack.Roles {
		roles = append(roles, string(r))
	}
	return roles, cobra.ShellCompDirectiveNoFileComp
}

// completeNames completes a verb's NAME with the names of the objects of
// list's kind in the namespace, as kubectl completes resource names.
func (a *app) completeNames(list client.ObjectList) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, ns, err := a.connect()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		l := list.DeepCopyObject().(client.ObjectList)
		if err := c.List(cmd.Context(), l, client.InNamespace(ns)); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []cobra.Completion
		_ = meta.EachListItem(l, func(o runtime.Object) error {
			if m, err := meta.Accessor(o); err == nil {
				names = append(names, m.GetName())
			}
			return nil
		})
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
