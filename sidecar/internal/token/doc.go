// Package token signs and verifies Jack's JWTs with a key ring (package
// internal/keyring). The sidecar signs at login and refresh, and verifies on
// every request, so Verify is both the threat model's gatekeeper and the
// hottest path of the data plane.
//
// A token is a compact JWS (RFC 7515) with a JWT (RFC 7519) payload:
//
//	header  {"alg":"HS256","kid":"20261127-015500-3f9a","typ":"JWT"}
//	claims  {"sub":"staff-123","email":"bob@example.com","name":"Bob","role":"staff",
//	         "iat":1795744800,"nbf":1795744800,"exp":1795831200,
//	         "jti":"<128 random bits, base64url>","iss":"…","aud":"…"}
//
// iss and aud are there only when the ring sets them; aud is a single string.
// Sign writes tokens with github.com/golang-jwt/jwt/v5, with the key its
// caller chose (keyring.Ring.Signer, which weighs what the SigningKey
// announces). Verify reads them with a decoder of its own, because
// golang-jwt's parser costs some forty allocations a token; tests hold the
// two to the same verdicts (FuzzVerify). Verify names the key that verified
// a token in Claims.KeyID, so that the sidecar can refuse a key the
// SigningKey revokes before the ring without it is mounted.
//
// What Verify accepts: a token of three unpadded base64url segments, at most
// MaxSize bytes, whose header names with kid a key of the ring that verifies
// now (keyring.Key.Verifies) — or, without kid, that a legacy key signed —
// whose alg is exactly that key's algorithm, whose signature verifies, and
// whose claims have a sub, a jti and an exp, the ring's iss and aud when it
// sets them, and no nbf or iat later than now plus the leeway; and then only
// while now is before exp plus the leeway (RFC 7519 §4.1.4: at exp itself a
// token has expired). A token refused for nothing but its age is ErrExpired;
// every other refusal is ErrInvalid.
//
// Verify is stricter than golang-jwt on purpose in these ways, each of which
// golang-jwt would accept:
//
//   - a segment must be the canonical base64url spelling: no CR or LF inside
//     (encoding/base64 skips them), and zero unused trailing bits, so a token
//     cannot be re-spelled without being re-signed;
//   - a token longer than MaxSize is refused unread;
//   - a header with crit is refused (RFC 7515 §4.1.11: no extension is
//     understood here);
//   - alg, kid and every claim Verify reads must appear once: with two,
//     golang-jwt silently takes the last, and two parsers could disagree on
//     which one counts;
//   - those claims must have their JSON type, even those golang-jwt does
//     not look at (email, name, role; iss and aud when the ring sets none),
//     and aud must be a single string, not an array;
//   - iat, nbf and exp must be plain integers from 0 to 9999-12-31T23:59:59Z
//     (0 counts as absent, as in golang-jwt): no fraction, exponent or sign;
//   - JSON may nest at most 64 deep (encoding/json allows 10000);
//   - jti must be 1 to 128 printable ASCII characters (StorableID), so that
//     every token Verify accepts can be logged out.
//
// Everything else it accepts as golang-jwt does, including JSON whitespace
// in the header and claims (the signature covers the exact bytes, so it
// changes nothing), escapes in names and strings (decoded exactly as
// encoding/json decodes them), and members it does not know (checked as
// JSON, then ignored).
//
// No error or log line of this package quotes a token or key material:
// Verify's errors are fixed values, and Reason turns one into a label for a
// metric.
//
// Used by the sidecar alone (sidecar/internal/server); the operator never
// sees a token.
package token
