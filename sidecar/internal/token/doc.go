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
//	         "jti":"<128 random bits, base64url>",
//	         "sid":"<128 random bits, base64url>","auth_time":1795572000,"sgen":3,
//	         "iss":"…","aud":"…"}
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
// sid, auth_time and sgen (api/jack's Claim constants) place a token in its
// session: a login starts one (Sign with the zero Session draws its id, and
// auth_time is the token's iat), and every refresh signs into the same one
// with the same sid and auth_time and a generation (sgen) one higher. No
// token outlives its session: Sign caps exp at auth_time plus the ring's
// session lifetime (SessionLifetime), and refuses with ErrSessionOver once
// that has passed. What a session's generation allows, and when it ends,
// is package sidecar/internal/session's to decide; this package only
// writes and reads the claims. Tokens signed before sessions existed carry
// none of them and verify as before, with an empty Claims.SessionID.
//
// What Verify accepts: a token of three unpadded base64url segments, at most
// MaxSize bytes, whose header names with kid a key of the ring that verifies
// now (keyring.Key.Verifies) — or, without kid, that a legacy key signed —
// whose alg is exactly that key's algorithm, whose signature verifies, and
// whose claims have a sub, a jti and an exp, the ring's iss and aud when it
// sets them, either no session or a whole one (a sid with an auth_time no
// later than its iat), and no nbf or iat later than now plus the leeway;
// and then only while now is before exp plus the leeway (RFC 7519 §4.1.4:
// at exp itself a token has expired). A token refused for nothing but its age is ErrExpired;
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
//   - iat, nbf, exp and auth_time must be plain integers from 0 to
//     9999-12-31T23:59:59Z (0 counts as absent, as in golang-jwt): no
//     fraction, exponent or sign; sgen a plain integer from 0 to
//     MaxSessionGeneration (2^53-1, which every JSON reader reads exactly);
//   - a token with a sid must have an auth_time and an iat, with auth_time
//     no later than iat, and one without a sid must have neither auth_time
//     nor an sgen other than 0 (an empty sid, auth_time 0 and sgen 0 count
//     as absent, so a sid without sgen is generation 0);
//   - JSON may nest at most 64 deep (encoding/json allows 10000);
//   - jti, and sid when there is one, must be 1 to 128 printable ASCII
//     characters (StorableID), so that every token Verify accepts can be
//     logged out.
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
// Used by the sidecar alone (sidecar/internal/server, and
// sidecar/internal/session for what a session allows); the operator never
// sees a token.
package token
