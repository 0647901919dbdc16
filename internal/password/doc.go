// Package password hashes JackUser passwords and checks them at login. The
// operator hashes each password into the user directory; the verifier sidecar
// verifies against that hash when a user logs in. Both must agree on the
// format, so it is defined here once.
//
// A hash is argon2id (RFC 9106) in the PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// m is memory in KiB, t the number of iterations and p the number of threads;
// salt (16 bytes from crypto/rand) and key (32 bytes) are unpadded standard
// base64. The cost parameters travel with each hash, so they can be raised
// later: old hashes keep verifying with the parameters they were made with,
// and NeedsRehash tells the operator which ones to replace.
//
// A hash is read from a file that could have been tampered with, so parsing
// refuses parameters that would make a login allocate more than 1 GiB or run
// more than 64 iterations, and every error describes what is wrong without
// quoting the hash or the password.
//
// Logins must not reveal which emails exist: DummyVerify costs what Verify
// costs with DefaultParams, for the sidecar to call when no user has the
// email, and Verify does the same work when a stored hash is unusable.
//
// Used by both binaries: the operator (controllers) hashes a JackUser's
// password into the user directory, and the sidecar checks it at login.
package password
