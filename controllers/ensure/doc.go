// Package ensure writes the objects the operator's reconcilers own, once it
// is decided what they should hold: the SigningKey's Secrets and JWKS
// ConfigMap, a namespace's user directory Secret, the sidecars' Role and
// RoleBinding, and the webhook certificates Secret. Only those reconcilers
// use it.
//
// Object creates the object when the reconciler found none, updates it when
// the wanted state differs from what was read, and writes nothing when it
// does not.
//
// # Optimistic concurrency
//
// Object never reads. The reconciler passes the object as it read it, from
// the cache or from the API server, whichever it decided from, and the
// update carries that object's resourceVersion. So when another writer
// changed the object since, or the cache was behind, the write fails with a
// Conflict and nothing is overwritten; likewise an object the reconciler
// found missing but that exists by the time of the write (a cache that has
// not seen it yet, a concurrent create, or one the cache filters out) makes
// Create fail with AlreadyExists. Object returns both as they are (wrapped
// with %w, so apierrors.IsConflict and IsAlreadyExists still see them) and
// does not retry: a retry means reading again and deciding again, which is
// the reconciler's to do. The reconcilers treat them differently, and keep
// doing so: the SigningKey and webhook certificates reconcilers requeue
// shortly, the user directory's returns the error to the controller's
// backoff, and the sidecar access reconciler reads AlreadyExists as a Role
// that is not the operator's, since its cache holds only the operator's own.
//
// For the same reason "unchanged" means unchanged from what was read, not
// from what the API server holds now.
//
// # Whose object it is
//
// Object writes what it is given and does not decide whose the object is:
// each reconciler has refused an object that is not its own before it calls
// Object (the SigningKey's controller reference, the user directory's and
// the sidecar access objects' labels), or deliberately adopts it (the
// webhook certificates Secret, which the Helm chart creates empty). Owner
// references, labels and annotations are part of what is created (want) and
// of what mutate sets on an update, because the reconcilers differ there:
// some set labels only when they create, one merges them into the existing
// ones on every update.
//
// # Why not controllerutil.CreateOrUpdate
//
// controller-runtime's CreateOrUpdate skips a no-op write the same way (a
// semantic DeepEqual after mutate), but it cannot keep the reconcilers'
// semantics:
//
//   - It reads the object itself, through the client it writes with, just
//     before writing. The update would then carry the resourceVersion of
//     that late read rather than of the one the reconciler decided from, and
//     a change made in between would be overwritten instead of failing with a
//     Conflict. The SigningKey's key ring and the webhook certificates rely
//     on that Conflict: their decisions are made from what was read.
//   - It reads and writes with one client, whereas the webhook certificates
//     are read from the API server (never a lagging cache) and written
//     through the manager's client.
//   - It applies one mutate to both a new and an existing object, whereas
//     the reconcilers create an object whole (labels, type, owner reference)
//     but update only some of its fields.
//   - It cannot replace an object whose immutable field must change.
package ensure
