package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// disabledVerb is what differs between the disable and enable verbs of the
// kinds that have spec.disabled (JackUser, JackAPIKey).
type disabledVerb struct {
	noun, kind, example string
	// enable and disable are each verb's short and long help.
	enable, disable [2]string
	object          func(name, namespace string) client.Object
	list            client.ObjectList
}

// newDisabledCmd is `<noun> disable NAME` (disable true) or `<noun> enable
// NAME`: a merge patch of spec.disabled.
func newDisabledCmd(a *app, disable bool, v disabledVerb) *cobra.Command {
	var out outputFlag
	verb, help := "enable", v.enable
	if disable {
		verb, help = "disable", v.disable
	}
	cmd := &cobra.Command{
		Use:     verb + " NAME",
		Short:   help[0],
		Long:    help[1],
		Example: "  kubectl jack " + v.noun + " " + verb + " " + v.example,
		Args:    exactlyOneName(v.noun+" "+verb, "the "+v.kind+"'s name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			c, ns, err := a.connect()
			if err != nil {
				return err
			}
			obj := v.object(args[0], ns)
			patch := fmt.Sprintf(`{"spec":{"disabled":%t}}`, disable)
			if err := c.Patch(cmd.Context(), obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
				return notFound(err, v.kind, args[0], ns)
			}
			return out.print(a.streams.Out, obj, fmt.Sprintf("%s/%s %sd", strings.ToLower(v.kind), args[0], verb))
		},
		ValidArgsFunction: a.completeNames(v.list),
	}
	out.addFlag(cmd)
	return cmd
}
