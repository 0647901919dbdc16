package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// docs/kubectl-jack.md lists every verb with its flags: each verb has a
// heading of its own (### `user add NAME ...`), and each flag of the verb's
// own is named in the verb's section, so that a verb or flag added to the
// plugin without its documentation fails here.
func TestDocsListEveryVerbAndItsFlags(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "docs", "kubectl-jack.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{} // heading -> its text up to the next heading
	var heading string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			heading = line
		}
		if strings.HasPrefix(heading, "### ") {
			sections[heading] += line + "\n"
		}
	}

	cmd, _ := newRoot(genericiooptions.NewTestIOStreamsDiscard())
	var verbs []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			switch {
			case !sub.IsAvailableCommand(), sub.Name() == "completion", sub.Name() == "version":
				// completion and version are under "Other", by example.
			case sub.HasSubCommands():
				walk(sub)
			default:
				verbs = append(verbs, sub)
			}
		}
	}
	walk(cmd)
	if len(verbs) < 10 {
		t.Fatalf("found only %d verbs in the plugin", len(verbs))
	}
	for _, v := range verbs {
		path := strings.TrimPrefix(v.CommandPath(), cmd.CommandPath()+" ")
		var section string
		for h, text := range sections {
			if strings.Contains(h, "`"+path+" ") || strings.Contains(h, "`"+path+"`") {
				section = text
			}
		}
		if section == "" {
			t.Errorf("docs/kubectl-jack.md has no ### heading for kubectl jack %s", path)
			continue
		}
		if !strings.Contains(section, "$ kubectl jack "+path) {
			t.Errorf("the section of kubectl jack %s has no example ($ kubectl jack %s ...)", path, path)
		}
		v.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !strings.Contains(section, "--"+f.Name) && !(f.Shorthand != "" && strings.Contains(section, "-"+f.Shorthand+" ")) {
				t.Errorf("the section of kubectl jack %s does not name its flag --%s", path, f.Name)
			}
		})
	}
}
