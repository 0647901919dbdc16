package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/internal/jackctl"
	"github.com/jack-io/jack-operator/internal/version"
)

// programName is the binary's name, which kubectl derives the plugin's
// verb from: kubectl-jack is `kubectl jack`.
const programName = "kubectl-jack"

// run executes the plugin with args and returns its exit code: 0, or 1
// after printing why it failed, as a sentence, on streams.ErrOut.
func run(args []string, streams genericiooptions.IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root, a := newRoot(streams)
	a.args = args
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		// One "error: " line per failure (errors.Join puts each on a line).
		fmt.Fprintln(streams.ErrOut, "error: "+strings.ReplaceAll(a.sentence(err), "\n", "\nerror: "))
		return 1
	}
	return 0
}

// app is what every verb shares: the streams, kubectl's connection flags
// and, once a verb asks for it, the client they lead to.
type app struct {
	streams genericiooptions.IOStreams
	flags   *genericclioptions.ConfigFlags
	// now is the clock --expires durations count from.
	now func() time.Time

	// args are the command line as given, which a group of verbs reads to
	// refuse a flag it does not know (verbGroup).
	args []string

	cfg       *rest.Config
	client    client.Client
	namespace string
}

func newRoot(streams genericiooptions.IOStreams) (*cobra.Command, *app) {
	a := &app{
		streams: streams,
		// Not persistent: every run reads the kubeconfig afresh (tests run
		// many roots in one process).
		flags: genericclioptions.NewConfigFlags(false).WithWarningPrinter(streams),
		now:   time.Now,
	}
	root := &cobra.Command{
		Use:   programName,
		Short: "Manage Jack's users, API keys and signing keys (kubectl jack)",
		Long: `kubectl jack manages Jack's authentication in a cluster running jack-operator:
users and their passwords, API keys, signing key rotation, and why a pod was
or was not given the verifier sidecar.

It changes only what kubectl could (JackUsers, JackAPIKeys, SigningKeys and
the password Secrets); the operator does the rest. A password or key is
printed only by the verb that generated it, once.`,
		SilenceErrors: true, // run prints the error, as a sentence
		SilenceUsage:  true, // a usage dump hides the sentence that matters
		// kubectl runs a plugin as kubectl-jack; show the name people type.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl jack"},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	a.flags.AddFlags(root.PersistentFlags())
	root.AddCommand(newVersionCmd(a), newUserCmd(a), newAPIKeyCmd(a))
	addOpsCommands(root, a)
	for _, c := range root.Commands() {
		if c.HasSubCommands() {
			verbGroup(c, a)
		}
	}
	return root, a
}

// verbGroup makes a group of verbs (user, apikey, key, inject) refuse an
// unknown verb with exit 1, as the root does, instead of printing its help
// and exiting 0: a typo in a script must fail. Alone, it prints its help.
func verbGroup(cmd *cobra.Command, a *app) {
	cmd.Args = cobra.ArbitraryArgs
	// The mistyped verb's flags are not the group's: name the verb instead.
	cmd.FParseErrWhitelist.UnknownFlags = true
	cmd.RunE = func(c *cobra.Command, args []string) error {
		var verbs []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				verbs = append(verbs, sub.Name())
			}
		}
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q: it has %s (kubectl jack %s --help)", args[0], c.CommandPath(), strings.Join(verbs, ", "), c.Name())
		}
		// No verb: the whitelist let any flag through, but one the group
		// does not know is a mistake (kubectl jack user --generate).
		if flag := unknownFlag(c, a.args); flag != "" {
			return fmt.Errorf("unknown flag %s for %q, which needs a verb first: %s (kubectl jack %s --help)", flag, c.CommandPath(), strings.Join(verbs, ", "), c.Name())
		}
		return c.Help()
	}
}

// unknownFlag is the first of args that looks like a flag cmd does not know
// (its own or an inherited one), or "". A known flag's value is skipped; after
// "--" nothing is a flag.
func unknownFlag(cmd *cobra.Command, args []string) string {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return ""
		}
		if len(arg) < 2 || arg[0] != '-' {
			continue
		}
		name, hasValue := strings.TrimLeft(arg, "-"), false
		if before, _, ok := strings.Cut(name, "="); ok {
			name, hasValue = before, true
		}
		var f *pflag.Flag
		if strings.HasPrefix(arg, "--") {
			f = cmd.Flags().Lookup(name)
		} else {
			// -n shop, -nshop, -n=shop: the shorthand is the first letter.
			f = cmd.Flags().ShorthandLookup(name[:1])
			hasValue = hasValue || len(name) > 1
		}
		if f == nil {
			return arg
		}
		if !hasValue && f.NoOptDefVal == "" {
			i++ // the flag's value
		}
	}
	return ""
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print this plugin's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(a.streams.Out, version.Get(programName))
			return err
		},
	}
}

// scheme knows Kubernetes' kinds and the operator's.
var scheme = jackctl.Scheme()

// connect builds the client from the kubeconfig, --context, -n and the other
// connection flags, once, and returns it with the namespace to work in.
func (a *app) connect() (client.Client, string, error) {
	if a.client != nil {
		return a.client, a.namespace, nil
	}
	ns, _, err := a.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg, err := a.flags.ToRESTConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, "", errors.New("no cluster to talk to: set KUBECONFIG, pass --kubeconfig, or run inside a cluster")
		}
		return nil, "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.UserAgent = programName + "/" + version.Version
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the API server at %s: %w", cfg.Host, err)
	}
	a.cfg, a.client, a.namespace = cfg, c, ns
	return c, ns, nil
}
