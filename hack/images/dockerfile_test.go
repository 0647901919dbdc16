package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerfileMatchesImages keeps the Dockerfile (for users who build with
// Docker or Buildah, which cannot run here) from drifting from what this
// command builds: the same go build flags and CGO_ENABLED=0, the same
// packages, each binary copied to the same path and run as the same user.
func TestDockerfileMatchesImages(t *testing.T) {
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := dockerStages(string(data))

	build := stages["build"]
	var goBuild []string
	for _, instr := range build {
		if words := shellWords(instr); slices.Contains(words, "go") && slices.Contains(words, "build") {
			goBuild = words
		}
	}
	if goBuild == nil {
		t.Fatalf("the Dockerfile's build stage runs no go build; its stages: %v", stages)
	}
	if !slices.Contains(goBuild, "CGO_ENABLED=0") {
		t.Errorf("the Dockerfile's go build does not set CGO_ENABLED=0: %q", goBuild)
	}
	i, o := slices.Index(goBuild, "build"), slices.Index(goBuild, "-o")
	if o < i || o+1 >= len(goBuild) || goBuild[o+1] != "/out/" {
		t.Fatalf("want `go build FLAGS -o /out/ PACKAGES` in the Dockerfile, got %q", goBuild)
	}
	if flags, want := goBuild[i+1:o], goBuildFlags("${VERSION}"); !slices.Equal(flags, want) {
		t.Errorf("the Dockerfile's go build flags are %q; hack/images builds with %q", flags, want)
	}
	pkgs := goBuild[o+2:]

	for _, im := range images {
		if im.name == "jack-pause" { // the local cluster's own, not a user's
			continue
		}
		if !slices.Contains(pkgs, im.pkg) {
			t.Errorf("the Dockerfile's go build does not build %s (%s): %q", im.pkg, im.name, pkgs)
		}
		stage, ok := stages[im.name]
		if !ok {
			t.Errorf("the Dockerfile has no stage (target) %s", im.name)
			continue
		}
		if want := "COPY --from=build /out/" + im.out + " " + im.binary; !slices.Contains(stage, want) {
			t.Errorf("stage %s: want %q, got %q", im.name, want, stage)
		}
		if want := `ENTRYPOINT ["` + im.binary + `"]`; !slices.Contains(stage, want) {
			t.Errorf("stage %s: want %q, got %q", im.name, want, stage)
		}
		if user := dockerUser(stages, stage); user != im.user {
			t.Errorf("stage %s runs as %q; hack/images's image runs as %q", im.name, user, im.user)
		}
	}
	if last := lastStage(string(data)); last != "jack-operator" {
		t.Errorf("the Dockerfile's last stage (its default target) is %q, want jack-operator", last)
	}
}

var fromRE = regexp.MustCompile(`(?i)^FROM\s+(?:--platform=\S+\s+)?(\S+)\s+AS\s+(\S+)$`)

// dockerStages maps each stage name to its instructions (continuation lines
// joined, comments dropped), the first being `FROM <base>`.
func dockerStages(dockerfile string) map[string][]string {
	stages := map[string][]string{}
	var current string
	for _, instr := range dockerInstructions(dockerfile) {
		if m := fromRE.FindStringSubmatch(instr); m != nil {
			current = m[2]
			stages[current] = []string{"FROM " + m[1]}
			continue
		}
		if current != "" {
			stages[current] = append(stages[current], instr)
		}
	}
	return stages
}

func lastStage(dockerfile string) string {
	last := ""
	for _, instr := range dockerInstructions(dockerfile) {
		if m := fromRE.FindStringSubmatch(instr); m != nil {
			last = m[2]
		}
	}
	return last
}

func dockerInstructions(dockerfile string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(dockerfile, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(strings.TrimSpace(s) + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

// dockerUser is the USER a stage ends with, following FROM to earlier stages.
func dockerUser(stages map[string][]string, stage []string) string {
	for i := len(stage) - 1; i >= 1; i-- {
		if u, ok := strings.CutPrefix(stage[i], "USER "); ok {
			return strings.TrimSpace(u)
		}
	}
	if base, ok := stages[strings.TrimPrefix(stage[0], "FROM ")]; ok {
		return dockerUser(stages, base)
	}
	return ""
}

// shellWords splits a RUN line as a shell would, for double and single
// quotes (enough for a Dockerfile's go build line).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
