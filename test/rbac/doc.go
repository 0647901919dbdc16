// Package rbac tests that the Helm chart's RBAC is exactly what the
// operator needs: the operator, built by internal/operator from the chart's
// own Deployment arguments, runs as the chart's ServiceAccount against a
// real kube-apiserver holding only what the chart installs, through every
// controller and both webhooks, and the API server refuses it nothing; a
// negative control takes a rule away and sees the same checks fail. The
// same runs in the chart's namespace-scoped mode (watchNamespaces), where the
// operator's namespaced permissions are Roles in the watched namespaces, and
// a namespace outside them is left alone (namespaced_test.go).
//
// It also tests what a namespace's users may do with the jack resources
// through Kubernetes' default view, edit and admin roles, which the chart's
// aggregated ClusterRoles extend (users_test.go), and benchmarks the real
// operator binary's memory in a cluster full of Secrets and ConfigMaps
// that are not its own (cache_bench_test.go, `make bench-cache`).
//
// It runs bin/helm and the envtest API server in bin/, built from source by
// `make tools` (hack/build-tools.sh).
package rbac
