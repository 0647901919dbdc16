// Package livefile keeps a parsed copy of a mounted file current while the
// process runs, so the verifier sidecar picks up a rotated key ring, a changed
// user directory or an edited role policy without a restart and without ever
// failing a request while it does.
//
// Watch loads the file, then keeps it current; Load hands out the parsed value
// without a lock or an allocation, so it can sit on every request's path:
//
//	keys, err := livefile.Watch(ctx, livefile.Options[*keyring.Ring]{
//		Path:  "/var/run/jack/keys/keyring.json",
//		Parse: keyring.Parse,
//		Log:   log,
//	})
//	…
//	ring, ok := keys.Load() // ok is false until the first good load: not ready
//
// A caller that waits for the file to say something (the sidecar's /confirm
// long poll) takes Changed before it looks at Load: the channel is closed
// when the next new value is served.
//
// # How the kubelet updates a mounted Secret or ConfigMap
//
// The kubelet's AtomicWriter never edits a file in place. A volume directory
// holds a timestamped directory with the real files, a symlink ..data to it,
// and for each key a symlink such as keyring.json -> ..data/keyring.json. An
// update writes a new timestamped directory, points a new symlink ..data_tmp
// at it, renames ..data_tmp over ..data (the atomic swap), adds and removes
// the per-key symlinks for added and removed keys, then deletes the old
// timestamped directory. The path of a key therefore never changes, but the
// file behind it is a different file after every update; the directory entry
// that changes is ..data, not keyring.json.
//
// That is why a File watches the file's directory (with inotify through
// fsnotify), not the file or its symlink: a watch on the file would follow
// the symlink to the old timestamped directory and go quiet once that is
// deleted. Any change in the directory other than a bare permission change
// schedules a check; checks are debounced (Options.Debounce), so the burst of
// events of one swap costs one read. A check reads the file and compares a
// SHA-256 of its bytes with the bytes it last parsed, so a swap that changed
// another key of the same Secret, a touch, or a rewrite with equal bytes does
// not parse again. A poll (Options.PollInterval) checks as well, as a safety
// net for everything notifications miss: a lost event, a file reached through
// a symlink into another directory, or a node whose inotify limits are used up
// (Watch then falls back to polling alone and says so in the log).
//
// The same watch serves a plain file replaced by rename (local development),
// a file written in place, and a file deleted and created again.
//
// # Failures keep the last good value
//
// A file that cannot be read or does not parse never replaces a good value:
// Load keeps returning the last good one, and the failure shows in Status,
// in the log (the path and the error's message, never the file's content),
// and through Options.OnReload for metrics. The next good version recovers.
// A failure is reported once per change, not again on every poll.
//
// # Starting without a good file
//
// Watch fails only when it cannot work at all: bad options, or a directory
// that does not exist (a kubelet volume's directory always exists, so that is
// a wrong path). A file that is missing or does not parse at start is not an
// error: Watch returns a File that is not ready (Load returns false, Loaded
// is not closed) and keeps checking, because an optional Secret may be
// populated later, and a process that stays up and answers /readyz with "not
// ready" recovers within a poll, where a crash-looping one waits out the
// kubelet's back-off.
//
// # Limits
//
// A file mounted with subPath is never updated by the kubelet; mount the
// volume's directory instead. Parse must depend only on the bytes (checks
// against the clock belong where the value is used, since an unchanged file
// is not parsed again), and its errors must not quote the content, because
// they are logged and shown in Status.
//
// Used by the sidecar's app, for the key ring, the user directory and the
// role policy.
package livefile
