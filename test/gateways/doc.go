// Package gateways runs real gateways in front of the real jack-auth sidecar
// and a stand-in for Jack: nginx (Debian's package, auth_request) and
// Traefik (built from source into bin/traefik by hack/build-tools.sh, its
// forwardAuth middleware), each configured from the very files that
// docs/gateways.md documents (docs/gateways/), so the documentation is what
// is tested. Envoy, which has no binary here, is tested at the level of its
// ext_authz HTTP contract.
//
// The tests drive the gateway as a client would, and as an attacker would:
// every role's routes, the auth API, forged identity headers, forward-auth
// headers of every dialect, every spelling of a path, ambiguous credentials
// and login throttling per client. They assert on the client's answer and
// on what Jack received.
//
// A test skips when its gateway is missing (no nginx on the path, no
// bin/traefik) unless JACK_REQUIRE_GATEWAYS=1, when it fails instead;
// `make test-gateways` builds and installs both and sets it.
package gateways
