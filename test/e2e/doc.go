// Package e2e is the whole journey on a real single-node cluster
// (hack/cluster): the Helm chart installed, a namespace opted in, a
// SigningKey, three JackUsers and the sample app jack-echo with two
// replicas, then kubectl jack (inject explain, doctor, a user's life),
// login, the role table through the proxy and /auth, logout across
// replicas, rotations by kubectl jack key rotate --wait under traffic (with
// the kubelet's propagation time measured), an upgrade under traffic, API
// keys, disable, password change, the operator killed mid-rotation, and
// uninstall; then the chart once more in namespace-scoped mode
// (watchNamespaces), injecting and logging in only in the watched namespace.
// Its tests carry the build tag e2e, so `make test` leaves them
// out; `make e2e` brings the cluster up and runs them.
package e2e
