// Command controlplane runs a local kube-apiserver and etcd on loopback, built
// from source into bin/, with the project's CRDs and webhook configurations
// installed, until it is told to stop. It writes an administrator kubeconfig for kubectl. `make demo`
// starts it in the background and `make demo-down` stops it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testenv"
)

func main() {
	kubeconfig := flag.String("write-kubeconfig", "bin/kubeconfig", "Where to write the administrator kubeconfig.")
	webhookEnv := flag.String("write-webhook-env", "bin/demo-webhook.env", "Where to write the address and certificate directory the operator's webhook server must use.")
	flag.Parse()
	if err := run(*kubeconfig, *webhookEnv); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, webhookEnv string) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := authv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}

	// Stop on the first signal, even if it arrives while starting.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)

	// The webhooks are registered pointing at a local server whose
	// certificate the API server trusts; the operator serves them there.
	env, err := testenv.Start(scheme, testenv.WithWebhooks())
	if err != nil {
		return err
	}
	defer func() {
		_ = os.Remove(kubeconfig)
		_ = os.Remove(webhookEnv)
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "controlplane: stopping:", err)
		}
		fmt.Println("controlplane: stopped")
	}()

	wh := env.Webhook
	serving := fmt.Sprintf("WEBHOOK_HOST=%s\nWEBHOOK_PORT=%d\nWEBHOOK_CERT_DIR=%s\n", wh.Host, wh.Port, wh.CertDir)
	if err := os.WriteFile(webhookEnv, []byte(serving), 0o600); err != nil {
		return err
	}
	// Write the kubeconfig last and atomically: its presence means "ready".
	tmp := kubeconfig + ".tmp"
	if err := os.WriteFile(tmp, env.KubeConfig, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, kubeconfig); err != nil {
		return err
	}
	fmt.Printf("controlplane: serving at %s; kubeconfig in %s\n", env.Config.Host, kubeconfig)

	<-stop
	return nil
}
