package jack

// Annotations the operator reads.
const (
	// AnnotationRotate on a SigningKey asks for a rotation now. Any new value
	// rotates once; the same value never rotates twice.
	AnnotationRotate = "auth.jack.io/rotate"
	// AnnotationEndSessions on a JackUser ends every session of the user now,
	// without a password change: tokens issued before are refused, on every
	// replica. Any new value ends them once; the same value never again.
	AnnotationEndSessions = "auth.jack.io/end-sessions"
)

// Annotations the operator keeps on the key ring Secrets, so that what it
// has done is stored atomically with the ring it did it to.
const (
	// AnnotationHandledRotateRequest is the last AnnotationRotate value
	// acted on.
	AnnotationHandledRotateRequest = "auth.jack.io/handled-rotate-request"
	// AnnotationLegacyImported is "true" once spec.legacySecretRef was
	// imported, so an expired legacy key is never imported again.
	AnnotationLegacyImported = "auth.jack.io/legacy-imported"
)

// Labels the operator sets on what it creates, so they can be found and
// watched without reading their contents.
const (
	// LabelSigningKey names the SigningKey a Secret or ConfigMap belongs to.
	LabelSigningKey = "auth.jack.io/signing-key"
	// LabelComponent says what an object is for: see the Component values.
	LabelComponent = "auth.jack.io/component"
	// LabelManagedBy is the recommended Kubernetes label for the tool that
	// manages an object; the operator sets it to ManagedByValue.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the operator's value for LabelManagedBy.
	ManagedByValue = "jack-operator"
)

// UserDirectorySecretName is the Secret, one per namespace with JackUsers,
// that holds the namespace's user directory. Only sidecars mount it.
const UserDirectorySecretName = "jack-user-directory"

// Values of LabelComponent.
const (
	// ComponentKeyRing marks the Secret holding a SigningKey's ring.
	ComponentKeyRing = "key-ring"
	// ComponentKeyRingBackup marks the operator's own copy of a ring, which
	// nothing else reads.
	ComponentKeyRingBackup = "key-ring-backup"
	// ComponentJWKS marks the ConfigMap publishing a ring's public keys.
	ComponentJWKS = "jwks"
	// ComponentUserDirectory marks the Secret holding a namespace's users.
	ComponentUserDirectory = "user-directory"
)

// Data keys of the Secrets and ConfigMaps the operator writes. The sidecar
// reads the same keys from its mounted volumes.
const (
	// SecretKeyJWTSecret holds the active key's material, for programs that
	// read the JWT_SECRET variable. For HMAC keys it is the raw secret.
	SecretKeyJWTSecret = "JWT_SECRET"
	// SecretKeyKeyRing holds the whole ring in the key ring file format.
	SecretKeyKeyRing = "keyring.json"
	// ConfigMapKeyJWKS holds the ring's public keys as a JWK Set.
	ConfigMapKeyJWKS = "jwks.json"
	// ConfigMapKeyPolicy holds the sidecar's role policy (sidecar/internal/policy format).
	ConfigMapKeyPolicy = "policy.yaml"
	// SecretKeyUserDirectory holds a namespace's users in the user directory
	// format, gzip-compressed.
	SecretKeyUserDirectory = "users.json.gz"
)

// Headers the sidecar sets on requests it lets through to Jack (proxy mode)
// or on its forward-auth answers. A client's own copies are always removed
// first, so Jack can trust them.
const (
	HeaderUserID    = "X-Jack-User-Id"
	HeaderUserEmail = "X-Jack-User-Email"
	HeaderUserRole  = "X-Jack-User-Role"
	// The de-facto forward-auth names (oauth2-proxy's), for proxies
	// configured for them.
	HeaderAuthRequestUser  = "X-Auth-Request-User"
	HeaderAuthRequestEmail = "X-Auth-Request-Email"
)

// IdentityHeaders lists every header the sidecar sets to say who is calling,
// the API key headers (apikeys.go) among them: a gateway must copy all of
// them from /auth's answer to Jack. All are in IdentityHeaderFamilies.
var IdentityHeaders = []string{HeaderUserID, HeaderUserEmail, HeaderUserRole, HeaderUserKind, HeaderAPIKeyID,
	HeaderAuthRequestUser, HeaderAuthRequestEmail}

// Request headers the sidecar reads as claims, compared without case and
// with "_" read as "-" (CGI, Rack, PHP and Django read both as "_"). Gateway
// configurations must let them reach /auth, so that it can refuse them.
var (
	// IdentityHeaderFamilies are prefixes of names that claim an identity:
	// the sidecar's own and oauth2-proxy's.
	IdentityHeaderFamilies = []string{"X-Jack-User-", "X-Auth-Request-"}
	// NotIdentityHeaders are names in those families that say nothing of
	// who is calling: oauth2-proxy's redirect target, which ingress-nginx
	// sends to every auth request.
	NotIdentityHeaders = []string{"X-Auth-Request-Redirect"}
	// ForeignIdentityHeaders are other proxies' and servers' identity
	// headers that a framework in Jack might read (oauth2-proxy's
	// X-Forwarded-*, Apache's and kube-apiserver's remote user).
	ForeignIdentityHeaders = []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username",
		"X-Forwarded-Groups", "X-Remote-User", "X-Remote-Group", "Remote-User"}
	// CredentialHeaders carry a credential other than Authorization; beside
	// a bearer token they make a request ambiguous.
	CredentialHeaders = []string{"X-Api-Key", "Api-Key", "X-Auth-Token", "X-Access-Token", "Access-Token"}
	// MethodOverrideHeaders name another method than the request's.
	MethodOverrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}
)

// OriginalRequestHeaders name a request's method or URL other than its own:
// the forward-auth dialects' headers, and X-Rewrite-URL (IIS, Symfony), all
// of which some framework routes by. At /auth only the configured dialect's
// own, spelled exactly so, may appear; the sidecar removes every spelling of
// them from what it forwards to Jack.
var OriginalRequestHeaders = []string{"X-Original-Method", "X-Original-Uri", "X-Original-Url",
	"X-Forwarded-Method", "X-Forwarded-Uri", "X-Rewrite-Url"}
