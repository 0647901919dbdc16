package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jack-io/jack-operator/internal/jackctl/doctor"
)

func newDoctorCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the operator, its webhook, the CRDs and the namespace's sidecars",
		Long: `Check the installation and the namespace: the operator's leader and version,
webhook reachability and certificate expiry, caBundle match, CRD versions,
every SigningKey's propagation, the sidecar versions in the namespace. Each
problem is printed with its fix; the exit code is 1 when there is one, and
the last line (on standard error) says how many.`,
		Example: `  kubectl jack doctor -n shop`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ns, err := a.connect()
			if err != nil {
				return err
			}
			problems, err := doctor.Run(cmd.Context(), c, a.cfg, ns, a.streams.Out)
			if err != nil {
				return err
			}
			// The count is said once: here, as the closing line or the error.
			switch problems {
			case 0:
				_, err := fmt.Fprintln(a.streams.Out, "No problems found.")
				return err
			case 1:
				return fmt.Errorf("doctor found a problem: its fix is above")
			default:
				return fmt.Errorf("doctor found %d problems: each fix is above", problems)
			}
		},
	}
}
