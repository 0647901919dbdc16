// Package userdir is the user directory file format shared by the operator,
// which writes a namespace's JackUsers into one Secret (data key
// users.json.gz), and the verifier sidecar, which reads it from the mounted
// Secret to log users in. No other container mounts it: it holds password
// hashes.
//
// The file is compact JSON, gzip-compressed (Encode, Decode), shown here
// uncompressed and indented:
//
//	{
//	  "version": "userdir.auth.jack.io/v1",
//	  "users": [
//	    {"id": "admin-1", "email": "alice@example.com", "name": "Alice", "role": "admin",
//	     "passwordHash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$…",
//	     "passwordVersion": "7f3a9c04e1b2d865",
//	     "sessionsValidAfter": "2026-11-27T02:00:00Z"},
//	    {"id": "staff-123", "email": "bob@example.com", "name": "Bob", "role": "staff",
//	     "passwordHash": "$argon2id$…", "passwordVersion": "0c9d2e71a4f35b68",
//	     "disabled": true}
//	  ]
//	}
//
// Each user has a unique id (their identity in Jack and the subject of their
// tokens) and a unique email, compared case-insensitively and written
// lower-cased; role is admin, manager or staff. passwordHash is in the
// format of package internal/password; a user without one cannot log in.
// passwordVersion is opaque and changes whenever the password does.
// disabled and sessionsValidAfter (RFC 3339, UTC) are left out when false or
// unset; tokens issued before sessionsValidAfter are refused.
//
// Users are sorted by email, so a directory always serializes to the same
// bytes and the operator can skip writing a Secret that would not change.
// The encoded file must fit in a Secret (MaxSize, 1 MiB). A user takes
// about 300 bytes of JSON and 76 compressed (the hash is random and barely
// compresses), so 5,000 users take about 380 KB and a namespace holds some
// 13,000; Encode says so, with the size, rather than write a Secret the API
// server would refuse. Readers refuse versions they
// do not know, so the format can change safely.
package userdir
