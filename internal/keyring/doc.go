// Package keyring is the key ring file format shared by the operator, which
// writes it into a SigningKey's Secret, and the verifier sidecar, which reads
// it from the mounted Secret.
//
// A ring file is a JSON Web Key Set (RFC 7517) whose members carry a few
// extra fields. Every key is a private JWK (the sidecar signs with it) with
// its life written next to it:
//
//	{
//	  "version": "keyring.auth.jack.io/v1",
//	  "tokenTTLSeconds": 86400,
//	  "sessionLifetimeSeconds": 2592000,          (optional; 30 days when absent)
//	  "issuer": "https://jack.example.com",      (optional)
//	  "audience": "jack",                        (optional)
//	  "keys": [
//	    {"kid": "20261127-015500-3f9a", "kty": "oct", "alg": "HS256", "use": "sig", "k": "…",
//	     "state": "Active", "publishedAt": "2026-11-27T01:55:00Z", "activatedAt": "2026-11-27T02:00:00Z",
//	     "maxTokenTTLSeconds": 86400},
//	    {"kid": "legacy-…", "kty": "oct", "alg": "HS256", "use": "sig", "k": "…",
//	     "state": "Retired", "legacy": true, "expiresAt": "2026-11-28T02:02:00Z", …}
//	  ]
//	}
//
// States: a Published key verifies but does not sign; the single Active key
// signs and verifies; a Retired key verifies until expiresAt, when the
// operator removes it. A legacy key (imported from a pre-existing JWT_SECRET)
// is the only kind that verifies tokens without a "kid" header. Revoked keys
// never appear in a ring: revocation removes them.
//
// Which key signs is Ring.Signer's decision, the same in every replica: the
// Active key, or a newer one the SigningKey's status already announces as
// active while the mounted file still says Published; never a revoked one.
// Ring.Digest names what a ring says, without its material, for reports.
//
// Key material by type: "oct" (HMAC) has "k"; "RSA" has n, e, d, p, q, dp,
// dq, qi; "EC" (P-256) has crv, x, y, d; "OKP" (Ed25519) has crv, x, d.
// Readers refuse versions they do not know, so the format can change safely.
package keyring
