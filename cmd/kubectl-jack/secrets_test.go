package main

import (
	"fmt"
	"strings"
	"testing"
)

// Only the verbs that generate a password or key print it, once; every
// other verb, in every output format, prints none of them.
func TestNoOtherVerbPrintsAPasswordOrKey(t *testing.T) {
	ns := newNamespace(t)
	password := shownOnce(t, mustSucceed(t, ns, "", "user", "add", "olga", "--email", "olga@example.com", "--role", "staff", "--generate").stdout, "Password of olga")
	key := shownOnce(t, mustSucceed(t, ns, "", "apikey", "create", "feed", "--role", "staff").stdout, "API key feed")
	const typed = "a password typed at the keyboard"
	mustSucceed(t, ns, typed, "user", "passwd", "olga", "--password-stdin")

	var runs [][]string
	for i, o := range [][]string{nil, {"-o", "json"}, {"-o", "yaml"}} {
		other := fmt.Sprintf("pat%d", i)
		runs = append(runs,
			append([]string{"user", "add", other, "--email", other + "@example.com", "--role", "staff", "--password-stdin", "--wait"}, o...),
			append([]string{"user", "passwd", "olga", "--password-stdin"}, o...),
			append([]string{"user", "disable", "olga"}, o...),
			append([]string{"user", "enable", "olga"}, o...),
			append([]string{"user", "end-sessions", "olga", "--wait"}, o...),
			append([]string{"apikey", "disable", "feed"}, o...),
			append([]string{"apikey", "enable", "feed"}, o...),
			append([]string{"apikey", "rotate", "feed"}, o...),
		)
	}
	runs = append(runs, []string{"key", "status"}, []string{"doctor"}, []string{"inject", "explain", "pod/none"})
	for _, args := range runs {
		r := plugin(t, ns, typed, args...)
		if r.code != 0 && args[0] != "doctor" && args[0] != "inject" {
			t.Errorf("kubectl jack %s failed, which proves nothing:\n%s", strings.Join(args, " "), r)
		}
		if strings.Contains(r.stdout+r.stderr, "shown once") {
			t.Errorf("kubectl jack %s printed a generated value:\n%s", strings.Join(args, " "), r)
		}
		noSecretIn(t, r, password, key, typed)
	}
}

func TestVersionAndUsageErrors(t *testing.T) {
	r := mustSucceed(t, "default", "", "version")
	if !strings.HasPrefix(r.stdout, "kubectl-jack dev (") {
		t.Errorf("version printed %q", r.stdout)
	}
	mustFail(t, "default", "", "error: user add needs NAME, the JackUser's name", "user", "add")
	mustFail(t, "default", "", "error: say where the password comes from: --password-stdin (piped in) or --generate (printed once)\nerror: --email is required",
		"user", "add", "x", "--role", "staff")
	// A mistyped verb fails, as kubectl's do; a group alone shows its help.
	mustFail(t, "default", "", `error: unknown command "rotat" for "kubectl jack apikey": it has create, disable, enable, rotate (kubectl jack apikey --help)`, "apikey", "rotat", "x")
	mustFail(t, "default", "", `unknown command "passwrd" for "kubectl jack user"`, "user", "passwrd", "x", "--generate")
	if r = mustSucceed(t, "default", "", "user"); !strings.Contains(r.stdout, "Available Commands:") {
		t.Errorf("user alone did not print its help:\n%s", r)
	}
	// A group given a flag but no verb: a flag it knows (kubectl's own) still
	// shows the help; one it does not is a mistake, whatever its spelling.
	for _, args := range [][]string{{"user", "-n", "shop"}, {"key", "--namespace=shop"}, {"-nshop", "apikey"}, {"inject", "--context", "x"}} {
		if r = mustSucceed(t, "default", "", args...); !strings.Contains(r.stdout, "Available Commands:") {
			t.Errorf("kubectl jack %s did not print its help:\n%s", strings.Join(args, " "), r)
		}
	}
	for _, args := range [][]string{{"user", "--generate"}, {"apikey", "--bogus=1"}, {"key", "-n", "shop", "-y"}, {"user", "--namespace", "--generate", "--wait"}} {
		mustFail(t, "default", "", "which needs a verb first", args...)
	}
	r = plugin(t, "default", "", "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_kubectl-jack") {
		t.Errorf("no bash completion:\n%s", r)
	}
}
