// Package docs holds tests that keep the documentation a newcomer follows
// in step with what the project does.
//
// Used by: make test.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The values hack/demo.sh puts into the lines it prints, as README.md
// writes them.
var demoVars = strings.NewReplacer(
	`$kubeconfig`, `$PWD/bin/cluster/kubeconfig`,
	`$bin`, `$PWD/bin`,
	`$demo_ns`, `jack-demo`,
	`$port`, `18081`,
	`\$`, `$`,
	`\\`, `\`,
)

// TestTheREADMEsDemoLinesAreTheOnesMakeDemoPrints checks that every command
// of the README's demo block is one hack/demo.sh prints when the demo is up
// (its comments may differ), so that a newcomer copying either runs the same.
func TestTheREADMEsDemoLinesAreTheOnesMakeDemoPrints(t *testing.T) {
	readme := read(t, "README.md")
	_, after, ok := strings.Cut(readme, "what to try, among it:\n\n```sh\n")
	if !ok {
		t.Fatal("README.md has no demo block after \"what to try, among it:\"")
	}
	block, _, _ := strings.Cut(after, "```")

	script := read(t, "hack/demo.sh")
	_, after, ok = strings.Cut(script, "cat <<TRY\n")
	if !ok {
		t.Fatal("hack/demo.sh has no cat <<TRY block")
	}
	try, _, _ := strings.Cut(after, "\nTRY\n")
	printed := map[string]bool{}
	for _, line := range commands(demoVars.Replace(try)) {
		printed[line] = true
	}

	lines := commands(block)
	if len(lines) < 10 {
		t.Fatalf("the README's demo block has %d commands; the test does not read it right:\n%s", len(lines), block)
	}
	for _, line := range lines {
		if !printed[line] {
			t.Errorf("README.md's demo line is not one make demo prints:\n  %s", line)
		}
	}
	for _, want := range []string{"kubectl jack user add", "kubectl jack key rotate", "kubectl jack inject explain"} {
		if !strings.Contains(block, want) {
			t.Errorf("README.md's demo block does not show %q", want)
		}
	}
}

var (
	spaces  = regexp.MustCompile(`\s+`)
	comment = regexp.MustCompile(`\s+#\s.*$`)
)

// commands are a shell block's commands: continuation lines joined,
// comments and blank lines dropped, runs of blanks made one.
func commands(block string) []string {
	var out []string
	var cur string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(comment.ReplaceAllString(line, ""))
		if strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur += cont + " "
			continue
		}
		line = strings.TrimSpace(spaces.ReplaceAllString(cur+line, " "))
		cur = ""
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
