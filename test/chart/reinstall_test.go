package chart

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The CRDs kept by an uninstall, reinstalled under another release name and
// namespace: helm refuses to adopt them as they are, and each way
// docs/install.md ("Reinstalling with the kept CRDs") gives works — the
// kubectl annotate commands are run as the docs spell them. A SigningKey
// made under the first release survives it all.
func TestAReinstallUnderAnotherNameTakesTheKeptCRDsAsDocumented(t *testing.T) {
	s := startAPIServer(t)
	ctx := context.Background()
	const newRelease, newNamespace = "jack-auth", "auth-system"

	s.helm(t, nil, "install", release, chartDir, "--namespace", namespace, "--create-namespace")
	key := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "auth.jack.io/v1alpha1", "kind": "SigningKey",
		"metadata": map[string]any{"name": "jack", "namespace": "default"},
	}}
	waitEstablished(t, s, "signingkeys.auth.jack.io")
	if err := s.client.Create(ctx, key); err != nil {
		t.Fatalf("creating a SigningKey: %v", err)
	}
	s.helm(t, nil, "uninstall", release, "--namespace", namespace)

	install := func(extra ...string) (string, error) {
		args := append([]string{"install", newRelease, chartDir, "--namespace", newNamespace, "--create-namespace", "--kubeconfig", s.kubeconfig}, extra...)
		return run(t, helmEnv(t), tool(t, "helm"), args...)
	}
	_, err := install()
	if err == nil || !strings.Contains(err.Error(), "meta.helm.sh/release-name") {
		t.Fatalf("helm install under another name with the kept CRDs: %v; want the refusal docs/install.md quotes", err)
	}
	t.Logf("refused as documented: %v", err)

	// Without the CRDs: installs, and leaves them to the first release's marks.
	if _, err := install("--set", "crds.install=false"); err != nil {
		t.Fatalf("helm install --set crds.install=false: %v", err)
	}
	s.helm(t, nil, "uninstall", newRelease, "--namespace", newNamespace)

	// Handed over with the documented commands: installs, and owns them.
	commands := documentedHandOver(t)
	for _, cmd := range commands {
		args := append(strings.Fields(strings.TrimPrefix(cmd, "kubectl ")), "--kubeconfig", s.kubeconfig)
		if out, err := run(t, nil, tool(t, "kubectl"), args...); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	if _, err := install(); err != nil {
		t.Fatalf("helm install after the documented kubectl annotate: %v", err)
	}
	for _, name := range []string{"jackapikeys.auth.jack.io", "jackusers.auth.jack.io", "signingkeys.auth.jack.io", "tokenrevocations.auth.jack.io"} {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := s.client.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			t.Fatal(err)
		}
		if a := crd.GetAnnotations(); a["meta.helm.sh/release-name"] != newRelease || a["meta.helm.sh/release-namespace"] != newNamespace {
			t.Errorf("CRD %s belongs to %s/%s after the reinstall, want %s/%s", name,
				a["meta.helm.sh/release-namespace"], a["meta.helm.sh/release-name"], newNamespace, newRelease)
		}
	}
	if err := s.client.Get(ctx, client.ObjectKeyFromObject(key), key); err != nil {
		t.Errorf("the SigningKey did not survive the reinstall: %v", err)
	}
}

// documentedHandOver is the kubectl annotate commands of docs/install.md
// that hand the CRDs to release jack-auth in auth-system.
func documentedHandOver(t *testing.T) []string {
	t.Helper()
	doc := string(readFile(t, filepath.Join(root, "docs", "install.md")))
	_, section, ok := strings.Cut(doc, "### Reinstalling with the kept CRDs\n")
	if !ok {
		t.Fatal(`docs/install.md has no section "### Reinstalling with the kept CRDs"`)
	}
	var out []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "kubectl annotate ") {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatal("docs/install.md gives no kubectl annotate command to hand the CRDs over")
	}
	return out
}
