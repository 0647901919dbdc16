// Package chart tests the Helm chart in charts/jack-operator and the
// kustomize install in config/default: that they lint, that each set of
// values renders the objects a user expects, that bad values are refused
// with a sentence, that both stay in step with what controller-gen generates,
// and that the chart installs into, upgrades in and uninstalls from a real
// kube-apiserver.
//
// It runs bin/helm and bin/kubectl (for kustomize), built from source by
// `make tools` (hack/build-tools.sh), and the envtest API server in bin/.
package chart
