// Package connlimit bounds the connections a listener hands to an HTTP
// server: so many in all, and so many from one client address, so that
// neither a flood of slow connections nor one greedy client can take every
// file descriptor and goroutine of the sidecar.
//
// A connection over a bound is refused as soon as it is accepted: Accept
// never waits for room, since a blocked accept loop would let a few
// thousand slow connections starve every other client. On a plain-HTTP port
// the refusal is a minimal HTTP/1.1 answer in the sidecar's JSON envelope —
// 429 TOO_MANY_REQUESTS past the per-client bound, 503 SERVICE_UNAVAILABLE
// past the total — with Connection: close, written aside (at most 64 at
// once, each within three seconds) after the request's headers; past 64, and
// on a TLS port, the connection is just closed. Deadlines, which cut the
// connections that are admitted but slow, are the server's (http.Server's
// timeouts and the handlers' read deadlines).
//
// The last quarter of the total is kept for clients that hold only a few
// connections: past three quarters, a client holding eight or more is
// refused (503) as if the total were reached. A flood from a few dozen
// addresses, each within its share, then leaves room for everyone else.
//
// A client is an IPv4 address, or an IPv6 /64 (the least a host is given).
// Trusted proxies carry many clients' connections: they are bound only by
// the total.
//
// Used by the sidecar's app, around its listener.
package connlimit
