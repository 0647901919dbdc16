package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/jackctl/explain"
	"github.com/jack-io/jack-operator/internal/jackctl/keys"
)

// addOpsCommands adds the verbs whose work is done by internal/jackctl:
// key status|rotate|revoke, inject explain and doctor (doctor.go).
func addOpsCommands(root *cobra.Command, a *app) {
	root.AddCommand(newKeyCmd(a), newInjectCmd(a), newDoctorCmd(a))
}

func newKeyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "key",
		Aliases: []string{"keys", "signingkey", "sk"},
		Short:   "Show, rotate and revoke the JWT signing keys of a SigningKey",
	}
	status := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show a SigningKey's key ring: each key's state, age, propagation and expiry",
		Long: `Show a SigningKey's key ring (every SigningKey of the namespace without NAME):
each key's id, state, age, how many ready sidecars hold it, when it expires,
and when the next rotation is due. Key material is never shown.`,
		Example: `  kubectl jack key status
  kubectl jack key status jack -n shop`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := a.connect()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return keys.Status(cmd.Context(), c, ns, name, a.now(), a.streams.Out)
		},
		ValidArgsFunction: a.completeNames(&authv1alpha1.SigningKeyList{}),
	}

	var (
		wait    bool
		timeout time.Duration
	)
	rotate := &cobra.Command{
		Use:   "rotate NAME [--wait [--timeout DURATION]]",
		Short: "Rotate a SigningKey's signing key now (a fresh auth.jack.io/rotate)",
		Long: `Ask the operator for a rotation now, with a fresh value of auth.jack.io/rotate,
and return once it has published the new key. With --wait, return once the
new key signs and every ready sidecar holds it: the rotation is done.

--timeout bounds the whole wait; by default, as long as the SigningKey's
rotation can take (rotation.prepublish plus rotation.propagationTimeout,
and a minute).`,
		Example: `  kubectl jack key rotate jack --wait`,
		Args:    exactlyOneName("key rotate", "the SigningKey's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return fmt.Errorf("--timeout must not be negative, not %s", timeout)
			}
			c, ns, err := a.connect()
			if err != nil {
				return err
			}
			return keys.Rotate(cmd.Context(), c, ns, args[0], wait, timeout, a.streams.Out)
		},
		ValidArgsFunction: a.completeNames(&authv1alpha1.SigningKeyList{}),
	}
	rotate.Flags().BoolVar(&wait, "wait", false, "Wait until the new key signs and every ready sidecar holds it")
	rotate.Flags().DurationVar(&timeout, "timeout", 0, "How long to wait before giving up (exit 1); 0: the SigningKey's rotation budget")

	var yes bool
	revoke := &cobra.Command{
		Use:   "revoke NAME KID [--yes]",
		Short: "Revoke one key of a SigningKey at once: every token it signed is refused",
		Long: `List KID in the SigningKey's spec.revokedKeyIDs: every sidecar refuses the
tokens it signed within seconds, and never signs with it again. The users
who logged in with it must log in again; the command says who, and asks
for "yes" unless --yes.`,
		Example: `  kubectl jack key status jack      # find the KID
  kubectl jack key revoke jack 2f1c0d9e`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("key revoke needs NAME, the SigningKey's name, and KID, the id of the key to revoke (kubectl jack key status shows them), not %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := a.connect()
			if err != nil {
				return err
			}
			return keys.Revoke(cmd.Context(), c, ns, args[0], args[1], yes, a.streams.In, a.streams.Out)
		},
		ValidArgsFunction: a.completeNames(&authv1alpha1.SigningKeyList{}),
	}
	revoke.Flags().BoolVar(&yes, "yes", false, "Revoke without asking")
	cmd.AddCommand(status, rotate, revoke)
	return cmd
}

func newInjectCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inject",
		Short: "Understand the injection of the verifier sidecar",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "explain TARGET",
		Short: "Say why a pod (or a deployment's pods) is or is not given the sidecar",
		Long: `Run the operator's own injection decision against the live objects and print
each reason: TARGET is pod/NAME, deployment/NAME, or a pod's NAME.`,
		Example: `  kubectl jack inject explain deployment/jack -n shop
  kubectl jack inject explain jack-7c9d8b6f5-x2x4q -n shop`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("inject explain needs one TARGET: pod/NAME, deployment/NAME, or a pod's NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := a.connect()
			if err != nil {
				return err
			}
			return explain.Explain(cmd.Context(), c, ns, args[0], a.streams.Out)
		},
	})
	return cmd
}
