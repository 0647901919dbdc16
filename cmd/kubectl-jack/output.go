package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// outputFlag is -o: the verbs that change an object can print it, as
// kubectl does, instead of a sentence. Only JackUsers and JackAPIKeys are
// ever printed, never a Secret.
type outputFlag struct{ format string }

func (o *outputFlag) addFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "", "Print the resulting object as json or yaml instead of a sentence")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

// validate refuses an unknown format before anything is changed.
func (o *outputFlag) validate() error {
	switch o.format {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output must be json or yaml, not %q", o.format)
}

// print writes obj in the chosen format, or the sentence when none was chosen.
func (o *outputFlag) print(w io.Writer, obj client.Object, sentence string) error {
	if o.format == "" {
		_, err := fmt.Fprintln(w, sentence)
		return err
	}
	obj = obj.DeepCopyObject().(client.Object)
	// A typed client leaves apiVersion and kind empty; printers need them.
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	obj.SetManagedFields(nil) // as kubectl get shows it
	var p printers.ResourcePrinter = &printers.JSONPrinter{}
	if o.format == "yaml" {
		p = &printers.YAMLPrinter{}
	}
	return p.PrintObj(obj, w)
}

// printGenerated prints a generated password or key, once: on stdout after
// the sentence, or on stderr when stdout carries the object (-o), so that
// what a script parses stays one object.
func printGenerated(streams genericiooptions.IOStreams, out *outputFlag, label, value string) {
	w := streams.Out
	if out.format != "" {
		w = streams.ErrOut
	}
	fmt.Fprintf(w, "%s (shown once, never again): %s\n", label, value)
}
