// Package controllers holds one reconciler per kind of the auth.jack.io API,
// each split by concern into files: the Reconcile flow, the objects it owns,
// its status, its metrics.
package controllers
