// Package rbac tests that the Helm chart's RBAC is exactly what the
// operator needs: the operator, built by internal/operator from the chart's
// own Deployment arguments, runs as the chart's ServiceAccount against a
// real kube-apiserver holding only what the chart installs, through every
// controller and both webhooks, and the API server refuses it nothing; a
// negative control takes a rule away and sees the same checks fail.
//
// It runs bin/helm and the envtest API server in bin/, built from source by
// `make tools` (hack/build-tools.sh).
package rbac
