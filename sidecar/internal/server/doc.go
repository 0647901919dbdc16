// Package server is the sidecar's HTTP surface: Jack's auth API (login,
// refresh, logout), the forward-auth endpoint /auth, and the verifying
// reverse proxy in front of Jack. Each concern is a handler or a
// WithX(deps, next) middleware; New composes them in one place.
//
// Used by the sidecar's app, which composes it with the files and stores.
package server
