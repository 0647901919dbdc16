// Package inject is the pod injection webhook's logic, without the webhook:
// Decide says whether a pod gets the jack-auth sidecar, and why not; Mutate
// adds it. Both are pure functions of the pod, its namespace, the names of the
// namespace's SigningKeys and the operator's Config, so every rule is a table
// test and the webhook around them only fetches, calls, patches, records an
// event and counts.
//
// # Deciding
//
// Decide returns a Decision: Inject (with the SigningKey chosen and the pod's
// settings resolved), Skip or Refuse, always with a Reason from a fixed set
// (an event reason and a metric label) and a Message for people. In order:
//
//   - Skip pods in kube-system, kube-public, kube-node-lease and the operator's
//     namespace, whatever their labels.
//   - Skip pods in a namespace that Config.NamespaceSelector does not match
//     (by default: without auth.jack.io/injection=enabled), pods labelled
//     auth.jack.io/inject=false, and pods that Config.ObjectSelector does not
//     match (by default: without auth.jack.io/inject=true). The selectors are
//     the webhook configuration's own (the operator's
//     --injection-namespace-selector and --injection-object-selector, which
//     the chart renders from the same values), so such pods never reach it,
//     a webhook that is down never blocks them, and a pod the API server
//     sends is never skipped for lacking labels the operator expected
//     (selectors.go).
//   - Skip a pod that this operator version already injected (it carries
//     auth.jack.io/injected-version with this version and has the sidecar):
//     the second pass of reinvocationPolicy IfNeeded, or a replayed request.
//   - Refuse a pod that asked for the sidecar and cannot have it, with a
//     sentence naming what to change: the label has a value other than "true"
//     or "false"; a container, volume or port name the sidecar uses is taken;
//     hostNetwork; an override annotation that does not parse; a container
//     declaring one of the sidecar's ports; a pod that runs to completion
//     when the cluster has no native sidecars; no SigningKey in the
//     namespace, several and none named by auth.jack.io/signing-key, or the
//     one named does not exist. Letting such a pod through without the
//     sidecar would run Jack without the authentication it asked for.
//
// A pod injected by another operator version (a copied pod manifest) is
// injected again: its old sidecar and volumes, known to be the webhook's by
// the annotation, are replaced.
//
// # Mutating
//
// Mutate adds one container, jack-auth, and its volumes. When the cluster
// runs native sidecars (Config.NativeSidecars, Kubernetes 1.29 and later) it
// is the first init container, with restartPolicy Always: it starts before
// every other init container and Jack, which start only once its startup
// probe passes, and it does not keep a Job's pod from completing. Otherwise
// it is the first regular container, and
// kubectl.kubernetes.io/default-container is set to the pod's first
// container so kubectl logs and exec still go to Jack.
//
// The sidecar's volumes are mounted in the sidecar only; no other container
// sees them, and the sidecar needs no API access to read them:
//
//	jack-auth-keys    Secret <signing key>-jwt (or spec.secretName), key keyring.json, required
//	                  → /var/run/jack-auth/keys/keyring.json        --keys
//	jack-auth-users   Secret jack-user-directory, key users.json.gz, optional
//	                  → /var/run/jack-auth/users/users.json.gz      --users
//	jack-auth-policy  ConfigMap Config.PolicyConfigMap, key policy.yaml, optional, only when configured
//	                  → /var/run/jack-auth/policy/policy.yaml       --policy
//	jack-auth-state   emptyDir
//	                  → /var/run/jack-auth/state/revocations.jsonl  --revocations
//
// The Secret and ConfigMap files have mode 0440. The kubelet writes them
// owned by root, in group root or in the pod's fsGroup; the sidecar runs as
// UID 65532 and reads them through the group: the fsGroup, when the pod has
// one, else GID 0. (Set an fsGroup on the pod to keep GID 0 out of it.)
//
// The sidecar runs as non-root with a read-only root filesystem, no privilege
// escalation, every capability dropped and the RuntimeDefault seccomp
// profile, so it passes the "restricted" Pod Security Standard. Its
// resources come from Config, overridden per pod by the
// auth.jack.io/sidecar-{cpu,memory}-{request,limit} annotations; readiness is
// /readyz (key ring and user directory loaded), liveness and startup are
// /healthz, all on its ops port.
//
// Mutate labels the pod auth.jack.io/inject=true, whatever selector chose
// it: the operator finds injected pods by that label.
//
// Mutate is idempotent: it first removes any jack-auth container and any
// volume with one of the four names above, so applying a decision twice
// gives the pod of applying it once. Other volumes, even named jack-auth-…,
// are the pod's and left alone.
//
// # Ports, and how traffic reaches the sidecar
//
// The sidecar has two ports, by name:
//
//	jack-auth      Config.Port (8080), every interface: the auth API
//	               (/api/v1/auth/login, /refresh, /logout), /auth, and in proxy mode the proxy to Jack
//	jack-auth-ops  Config.MetricsPort (9090): /metrics, /healthz, /readyz
//
// Refer to them by name, never by number: the numbers are the operator's
// configuration and may change.
//
// Proxy mode (auth.jack.io/mode: proxy, the default). The sidecar runs with
// --upstream http://127.0.0.1:<port>, the port from
// auth.jack.io/upstream-port (default 3000). A Service reaches the sidecar
// first when its targetPort names the sidecar's port:
//
//	apiVersion: v1
//	kind: Service
//	metadata:
//	  name: jack
//	spec:
//	  selector:
//	    app: jack
//	  ports:
//	  - name: http
//	    port: 80
//	    targetPort: jack-auth
//
// and Jack listens on 127.0.0.1 only, at the upstream port, so that nothing
// reaches it except through the sidecar: not another pod, not a Service or
// Ingress whose targetPort still names Jack's own port.
//
// The sidecar answers the auth API itself, verifies every other /api/v1/
// request and forwards it to Jack with X-Jack-User-Id, X-Jack-User-Email and
// X-Jack-User-Role (a client's own copies are removed first), and forwards
// every path outside /api/v1/ unchanged. Because the kubelet probes the
// pod's IP, which Jack no longer listens on, point Jack's own httpGet probes
// at port jack-auth with a path outside /api/v1/ (the sidecar passes it
// through), or use an exec probe.
//
// Forward-auth mode (auth.jack.io/mode: forward-auth). The sidecar runs
// without --upstream: on port jack-auth it answers the auth API and /auth,
// and nothing else. A proxy in front of Jack asks /auth about every request
// and copies the identity headers of a 200 answer to Jack:
//
//   - an ingress controller reaches the sidecar through a Service port whose
//     targetPort is jack-auth, for example ingress-nginx's
//     nginx.ingress.kubernetes.io/auth-url:
//     http://jack-auth.<namespace>.svc.cluster.local:<port>/auth, or a
//     Traefik forwardAuth middleware with that address; and it routes
//     /api/v1/auth/ (login, refresh, logout) to the same Service port, since
//     the sidecar, not Jack, answers them;
//   - a proxy in the same pod (nginx auth_request) reaches it at
//     http://127.0.0.1:<Config.Port>/auth.
//
// In this mode Jack's port stays reachable without the proxy, so Jack must
// either verify tokens itself (it can read JWT_SECRET from the SigningKey's
// Secret) or be reachable only from the proxy (a NetworkPolicy).
//
// # The gateway in front
//
// Every sidecar gets --forward-auth, always explicit so the pod's spec says
// which dialect its /auth reads: Config.ForwardAuth (auto), or the pod's
// auth.jack.io/forward-auth (auto, nginx, traefik or envoy, exactly as the
// sidecar's flag spells them). It gets --trusted-proxies when the list is not
// empty: Config.TrustedProxies, or the pod's auth.jack.io/trusted-proxies,
// which replaces the operator's list rather than adding to it. Each entry must
// be what the sidecar's flag takes, a CIDR or a single address; an empty
// annotation is refused rather than read as "trust none", so that a template
// that rendered nothing cannot silently drop the operator's default. Both
// matter in proxy mode too: the trusted proxies decide whose X-Forwarded-For
// names the client that the sidecar throttles by.
//
// Used by the operator (internal/operator registers the webhook, and the
// controllers' envtest suites run it), and by the sidecar's tests, which
// check that the arguments it injects are flags the sidecar takes.
package inject
