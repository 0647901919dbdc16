// Package webhookcerts runs the operator's own webhook serving certificates:
// controllers/certs decides and makes them, and this package keeps them in one
// Secret, publishes the CA into the webhook configurations' caBundle, and
// serves the certificate from memory.
//
// It has two parts, because the API server checks two things made in
// different places:
//
//   - The Reconciler, run by the leader only, is the one writer. It reads the
//     Secret, plans with certs.Plan, applies with certs.Apply and stores the
//     result in one update (creating the Secret if it is missing), then
//     patches the Secret's ca.crt into the caBundle of every webhook of the
//     named ValidatingWebhookConfigurations and MutatingWebhookConfigurations.
//     It watches those too, so a caBundle that `kubectl apply` or a Helm
//     upgrade resets is put back at once rather than at the next renewal.
//   - The ServingCertificate, run by every replica whether it leads or not,
//     keeps the Secret's serving certificate in memory, from a watch on that
//     one Secret, and hands it to the webhook server's TLS handshakes
//     (webhook.Options.TLSOpts). A replica that is not the leader still
//     serves admissions, so it must follow the leader's writes without
//     waiting for a mounted volume to be refreshed, and nothing is written to
//     disk. Its readiness check fails until a certificate is loaded, so a
//     replica gets no traffic it cannot answer.
//
// # Why the phases hold
//
// certs rotates the CA in three phases an Overlap apart, assuming the new CA
// reached every caBundle when phase 1 was stored. The Reconciler makes that
// true rather than assuming it: it patches the caBundles right after each
// write, returns an error (and retries with backoff) before planning anything
// if a patch fails, and refuses phase 2 (NewCATrusted) until every caBundle
// has held the current CA for an Overlap. When it had to put the current CA
// into a caBundle itself (a reset, a failed patch, a configuration created
// late), that Overlap counts from then, not from phase 1. It remembers that
// moment in memory only: a new leader has not seen the caBundles lack it, and
// falls back on certs' assumption, which a restart cannot make worse than a
// late patch already is.
//
// The serving side needs no such care: the leader's write reaches every
// replica's watch within moments, far less than an Overlap, and a Secret the
// replica cannot read leaves the last good certificate in service.
//
// Nothing secret leaves the Secret and the TLS handshake: events, logs and
// errors name data keys, certificates, serial numbers and times, never a key.
package webhookcerts
