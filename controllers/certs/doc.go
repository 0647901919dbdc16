// Package certs decides and makes the webhook's serving certificates: a
// private CA whose certificate goes into the caBundle of the webhook
// configurations, and a serving certificate from it for the webhook server.
// It is the pure part of the operator's certificate management; the
// controller around it reads one Secret, calls Parse, Plan and Apply, writes
// the Secret back in one update, and (as the leader only) patches the Secret's
// ca.crt into every webhook configuration's caBundle.
//
// # The Secret
//
// A Bundle is everything kept in the Secret, under these data keys:
//
//	ca.crt   the caBundle to publish: the current CA, then the previous CA while a rotation still needs it
//	ca.key   the current CA's private key (PKCS #8); the previous CA's key is never kept
//	tls.crt  the serving certificate alone (no chain: the CA is in caBundle)
//	tls.key  its private key (PKCS #8)
//
// tls.crt and tls.key are the names of a kubernetes.io/tls Secret and the files
// controller-runtime's webhook server loads from its certificate directory, so
// the Secret can be mounted there as it is, and may be of type
// kubernetes.io/tls: every bundle Apply makes has both. ca.crt is
// cert-manager's name for the CA. Nothing else is stored: the times a rotation moves on are read from
// the certificates themselves (see Backdate), so the Secret cannot hold a
// schedule that disagrees with its certificates.
//
// Parse refuses data that does not hang together — a key that does not match
// its certificate, a serving certificate no CA in ca.crt signed, anything that
// is not PEM of the right kind — and its errors name the data key at fault,
// never its contents. A *ParseError whose ServingOnly is true leaves the CA
// intact: parse again without tls.crt and tls.key, and Plan issues a new
// serving certificate from the same CA, so the caBundle does not change and
// admission never breaks. Any other refusal means starting over (Plan(nil)).
//
// # Deciding
//
// Plan is a chain of rules, the first that applies deciding; its Reason is a
// condition and event reason. In order:
//
//   - no bundle: create a CA and a serving certificate (DoesNotExist);
//   - the CA is outside its validity: start over, since nothing it signed can
//     verify anyway (CAExpired);
//   - the serving certificate is missing (ServingCertMissing), was signed by
//     no CA in ca.crt (IncorrectIssuer), or it or its CA is outside its
//     validity (ServingCertExpired): issue one from the current CA at once,
//     even during a rotation, since the one there cannot work anyway;
//   - a rotation is in phase 1 (below): wait for the overlap, then phase 2;
//   - a rotation is in phase 2 and another overlap has passed: phase 3;
//   - the serving certificate's DNS names differ from Settings.DNSNames,
//     compared as sets, case-insensitively (DNSNamesChanged), or only its IP
//     addresses differ from Settings.IPAddresses (IPAddressesChanged);
//   - the CA reached its renewal point: phase 1 (CARenewing);
//   - the serving certificate reached its renewal point (Renewing);
//   - else nothing, until RequeueAt.
//
// A certificate's renewal point is two thirds of the way from when it was
// issued to its expiry, as cert-manager's default: a third of its life is
// left to notice and repair a failing renewal.
//
// # Rotating the CA without breaking admission
//
// The API server verifies the webhook's serving certificate with the caBundle
// it last read from the webhook configuration. Changing the CA and the
// serving certificate together would fail every admission between the
// moment the webhook server loads the new serving certificate and the moment
// the new caBundle reaches the API server — and those happen in different
// processes, at different times. So the CA rotates in three phases, each a
// separate Decision and a separate write of the Secret:
//
//  1. CARenewing: a new CA becomes current and the old one previous. ca.crt
//     holds both; the serving certificate is still the old CA's. Every
//     caBundle, old or new, trusts the serving certificate.
//  2. NewCATrusted, one Overlap after phase 1: the serving certificate is
//     reissued from the new CA. Every caBundle patched since phase 1 trusts
//     it.
//  3. PreviousCAUnused, one Overlap after phase 2: the old CA leaves ca.crt.
//     Every webhook server has had an Overlap to load the new serving
//     certificate.
//
// During phase 1 the old CA's key is gone, so a serving certificate due for
// renewal or missing a new DNS name waits for phase 2 (at most one Overlap;
// a due certificate still has a third of its life). Only an unusable one
// (missing, expired, foreign) is replaced early, from the new CA.
//
// So, for every moment t, a caBundle published at any time in [t-Overlap, t]
// verifies the serving certificate of t, and the caBundle of t verifies any
// serving certificate in use during [t-Overlap, t]: a webhook configuration
// patched late, or a webhook server that loads its files late, by less than
// one Overlap, never fails an admission. The simulation test checks this at
// every step of three years.
//
// The default Overlap is one hour. It has to cover the kubelet delivering an
// updated Secret to the webhook server's volume (about a minute or two), a
// leader failover (seconds), and a caBundle patch retried after failures
// under controller-runtime's exponential backoff, whose delay doubles from
// 5 ms to a cap near 17 minutes. It costs nothing to be generous: a CA
// rotates about every eight months and no certificate is weakened while it
// waits. Settings may shorten it (tests do), or lengthen it up to a sixth of
// either validity, so that the third of a life left at a renewal point
// always covers two overlaps.
//
// Phase times are read from the certificates: Apply backdates NotBefore by
// Backdate (for clock skew between the operator and API servers), so a
// certificate was issued at NotBefore+Backdate. A crash between phases loses
// nothing: whatever bundle was last stored, planning again at any later time
// gives the step that is due. A certificate made elsewhere, without the
// backdate, looks issued an hour late, which only makes a phase wait longer.
//
// The controller should also confirm, before applying a NewCATrusted
// decision, that every webhook configuration's caBundle holds the current CA
// (Overlap assumes the patch happened; Plan cannot see it).
//
// # Making
//
// Apply performs a Decision and is the only function that makes keys: ECDSA
// P-256, from crypto/rand. The CA is valid for a year, the serving
// certificate for 90 days (never beyond its CA), both by default. The CA's
// common name is Settings.CAName followed by "@" and the Unix time it was
// made, as Kubernetes names its self-signed CAs, so two CAs in one caBundle
// are told apart; the serving certificate's is its first DNS name. IP
// addresses are for a webhook configuration that names the server by a URL
// with an address, as a local control plane does; in a cluster the API server
// dials a Service by its DNS name.
package certs
