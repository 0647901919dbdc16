// Package gatewaymanifests tests the manifests in config/samples/gateways,
// which put Traefik, Envoy Gateway, Istio, a Gateway API implementation with
// the ExternalAuth filter, or ingress-nginx in front of Jack with the
// jack-auth sidecar in forward-auth mode.
//
// Without any download, it checks the wiring a user relies on: each gateway
// asks the sidecar's /auth on the Service's jack-auth port, copies exactly
// the five identity headers, routes the auth API to the sidecar without
// forward auth, and runs the sidecar in the dialect that gateway speaks.
//
// With the gateways' own CRDs, copied from their Go modules into
// bin/gateway-crds by hack/gateway-crds.sh, it installs them into a real
// kube-apiserver (bin/, built by `make tools`) and applies every document of
// every sample with strict field validation, so a misspelled field fails;
// negative controls prove each kind does refuse one. The Istio mesh config
// and ingress-nginx's annotations, which no API server validates, are
// checked against istio.io/api's MeshConfig schema and ingress-nginx's
// annotation reference. Those tests skip when bin/gateway-crds is missing,
// unless JACK_REQUIRE_GATEWAYS=1. `make test-gateway-manifests` runs both.
package gatewaymanifests
