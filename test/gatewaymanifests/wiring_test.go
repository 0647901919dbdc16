package gatewaymanifests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/jack-io/jack-operator/api/jack"
)

// The sidecar refuses a request to /auth that carries one of these (a
// forged identity, a second credential, a method override), so an Envoy
// based gateway, which sends an HTTP auth service only the headers it is
// told to, must send them. Kept in step with sidecar/internal/server by
// hand: the sidecar's lists are internal to it.
var headersTheSidecarMustSee = append([]string{
	"Authorization",
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups",
	"X-Remote-User", "X-Remote-Group", "Remote-User",
	"X-Access-Token", "X-Auth-Token", "X-Api-Key", "Api-Key",
	"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
}, jack.IdentityHeaders...)

// Every sample runs Jack with the injected sidecar in forward-auth mode, in
// the dialect of its gateway, behind a Service whose jack-auth port reaches
// the sidecar and whose http port reaches Jack.
func TestEverySampleRunsJackWithTheSidecarInForwardAuthMode(t *testing.T) {
	for _, s := range loadSamples(t) {
		t.Run(s.file, func(t *testing.T) {
			dep := s.find(t, "Deployment", "jack")
			pod := dep.Object["spec"].(map[string]any)["template"]
			if got := str(pod, "metadata", "labels", jack.LabelInject); got != jack.InjectRequested {
				t.Errorf("the pods' label %s is %q, want %q: the webhook would not inject the sidecar", jack.LabelInject, got, jack.InjectRequested)
			}
			if got := str(pod, "metadata", "annotations", jack.AnnotationMode); got != string(jack.SidecarModeForwardAuth) {
				t.Errorf("the pods' annotation %s is %q, want %q", jack.AnnotationMode, got, jack.SidecarModeForwardAuth)
			}
			if got := str(pod, "metadata", "annotations", annotationForwardAuth); got != s.dialect {
				t.Errorf("the pods' annotation %s is %q, want %q: the sidecar would read the original request from the wrong headers", annotationForwardAuth, got, s.dialect)
			}
			if got := containerPort(pod, "http"); got != jackContainerPort {
				t.Errorf("Jack's container port http is %d, want %d", got, jackContainerPort)
			}

			svc := s.find(t, "Service", "jack")
			if str(svc.Object, "spec", "selector", "app.kubernetes.io/name") != "jack" || str(pod, "metadata", "labels", "app.kubernetes.io/name") != "jack" {
				t.Error("the Service does not select the pods by app.kubernetes.io/name=jack")
			}
			checkServicePort(t, svc, "http", jackServicePort, "http")
			checkServicePort(t, svc, jack.SidecarPortName, sidecarServicePort, jack.SidecarPortName)
		})
	}
}

func containerPort(pod any, name string) int64 {
	for i := range list(pod, "spec", "containers") {
		for j := range list(pod, "spec", "containers", fmt.Sprint(i), "ports") {
			p := []string{"spec", "containers", fmt.Sprint(i), "ports", fmt.Sprint(j)}
			if str(pod, append(p, "name")...) == name {
				return num(pod, append(p, "containerPort")...)
			}
		}
	}
	return -1
}

func checkServicePort(t *testing.T, svc *unstructured.Unstructured, name string, port int64, target string) {
	t.Helper()
	for _, p := range list(svc.Object, "spec", "ports") {
		if str(p, "name") != name {
			continue
		}
		if num(p, "port") != port || str(p, "targetPort") != target {
			t.Errorf("Service port %s is %d → %v, want %d → %s", name, num(p, "port"), p.(map[string]any)["targetPort"], port, target)
		}
		return
	}
	t.Errorf("the Service has no port %s", name)
}

// Each gateway asks the sidecar's /auth on the Service's jack-auth port
// about every request for Jack, copies exactly the five identity headers
// from the answer, and sends the auth API to the sidecar without asking.
func TestEachGatewayAsksTheSidecarAndCopiesTheIdentityHeaders(t *testing.T) {
	samples := map[string]sample{}
	for _, s := range loadSamples(t) {
		samples[s.file] = s
	}
	serviceURL := fmt.Sprintf("http://jack.%s.svc:%d%s", namespace, sidecarServicePort, authPath)

	t.Run("traefik.yaml", func(t *testing.T) {
		s := samples["traefik.yaml"]
		mw := s.find(t, "Middleware", "jack-forward-auth")
		fa := mw.Object["spec"].(map[string]any)["forwardAuth"]
		if got := str(fa, "address"); got != serviceURL {
			t.Errorf("forwardAuth.address is %q, want %q", got, serviceURL)
		}
		if v, _ := get(fa, "trustForwardHeader"); v != false {
			t.Errorf("forwardAuth.trustForwardHeader is %v, want false: a client could choose the method and URI the sidecar checks", v)
		}
		if _, ok := get(fa, "authRequestHeaders"); ok {
			t.Error("forwardAuth.authRequestHeaders is set: the sidecar would no longer see every client header, forged identities included")
		}
		if got := stringList(fa, "authResponseHeaders"); !sameHeaders(got, jack.IdentityHeaders) {
			t.Errorf("forwardAuth.authResponseHeaders is %v, want %v", got, jack.IdentityHeaders)
		}
		var toJack, toSidecar int
		for i, r := range list(s.find(t, "IngressRoute", "jack").Object, "spec", "routes") {
			port := fmt.Sprint(must(get(r, "services", "0", "port")))
			var mws []string
			for _, m := range list(r, "middlewares") {
				mws = append(mws, str(m, "name"))
			}
			switch port {
			case "http":
				toJack++
				if !slices.Equal(mws, []string{mw.GetName()}) {
					t.Errorf("route %d reaches Jack through middlewares %v, want [%s]", i, mws, mw.GetName())
				}
			case jack.SidecarPortName:
				toSidecar++
				if len(mws) != 0 || str(r, "match") != "PathRegexp(`(?i)^"+authAPIPrefix+"([/.]|$)`)" {
					t.Errorf("route %d reaches the sidecar with %q through %v; want only the auth API, without middlewares", i, str(r, "match"), mws)
				}
			default:
				t.Errorf("route %d goes to port %q", i, port)
			}
		}
		if toJack == 0 || toSidecar == 0 {
			t.Errorf("%d routes reach Jack and %d the sidecar; want both", toJack, toSidecar)
		}
	})

	t.Run("envoy-gateway.yaml", func(t *testing.T) {
		s := samples["envoy-gateway.yaml"]
		sp := s.find(t, "SecurityPolicy", "jack-forward-auth")
		ea := sp.Object["spec"].(map[string]any)["extAuth"]
		if refs := list(ea, "http", "backendRefs"); len(refs) != 1 || str(refs[0], "name") != "jack" || num(refs[0], "port") != sidecarServicePort {
			t.Errorf("extAuth.http.backendRefs is %v, want Service jack port %d", refs, sidecarServicePort)
		}
		if got := str(ea, "http", "path"); got != authPath {
			t.Errorf("extAuth.http.path is %q, want %q", got, authPath)
		}
		if got := stringList(ea, "http", "headersToBackend"); !sameHeaders(got, jack.IdentityHeaders) {
			t.Errorf("extAuth.http.headersToBackend is %v, want %v", got, jack.IdentityHeaders)
		}
		if m := missingHeaders(stringList(ea, "headersToExtAuth"), headersTheSidecarMustSee); len(m) > 0 {
			t.Errorf("extAuth.headersToExtAuth leaves out %v: the sidecar could not refuse them", m)
		}
		targeted := map[string]bool{}
		for _, ref := range list(sp.Object, "spec", "targetRefs") {
			if str(ref, "kind") == "HTTPRoute" {
				targeted[str(ref, "name")] = true
			}
		}
		checkHTTPRoutes(t, s.ofKind("HTTPRoute"), func(route *unstructured.Unstructured, _ any) bool { return targeted[route.GetName()] })
	})

	t.Run("gateway-api-external-auth.yaml", func(t *testing.T) {
		s := samples["gateway-api-external-auth.yaml"]
		checkHTTPRoutes(t, s.ofKind("HTTPRoute"), func(route *unstructured.Unstructured, rule any) bool {
			var auth []any
			for _, f := range list(rule, "filters") {
				if str(f, "type") == "ExternalAuth" {
					auth = append(auth, must(get(f, "externalAuth")))
				}
			}
			if len(auth) == 0 {
				return false
			}
			ea := auth[0]
			if str(ea, "protocol") != "HTTP" || str(ea, "backendRef", "name") != "jack" || num(ea, "backendRef", "port") != sidecarServicePort || str(ea, "http", "path") != authPath {
				t.Errorf("the ExternalAuth filter of %s is %v; want protocol HTTP to Service jack port %d, path %s", route.GetName(), ea, sidecarServicePort, authPath)
			}
			if got := stringList(ea, "http", "allowedResponseHeaders"); !sameHeaders(got, jack.IdentityHeaders) {
				t.Errorf("http.allowedResponseHeaders is %v, want %v (empty would copy every header of the answer)", got, jack.IdentityHeaders)
			}
			// Authorization is always sent; the rest must be asked for.
			if m := missingHeaders(append(stringList(ea, "http", "allowedHeaders"), "Authorization"), headersTheSidecarMustSee); len(m) > 0 {
				t.Errorf("http.allowedHeaders leaves out %v: the sidecar could not refuse them", m)
			}
			return true
		})
	})

	t.Run("istio.yaml", func(t *testing.T) {
		s := samples["istio.yaml"]
		ap := s.find(t, "AuthorizationPolicy", "jack-forward-auth")
		if got := str(ap.Object, "spec", "action"); got != "CUSTOM" {
			t.Errorf("action is %q, want CUSTOM", got)
		}
		provider := meshProvider(t, str(ap.Object, "spec", "provider", "name"))
		if got := str(ap.Object, "spec", "selector", "matchLabels", "app.kubernetes.io/name"); got != "jack" {
			t.Errorf("the policy selects app.kubernetes.io/name=%q, want Jack's pods", got)
		}
		// Only Jack's own port: a policy on the sidecar's port would ask
		// the sidecar about its own /auth and auth API.
		var ports []string
		for _, r := range list(ap.Object, "spec", "rules") {
			for _, to := range list(r, "to") {
				ports = append(ports, stringList(to, "operation", "ports")...)
			}
		}
		if !slices.Equal(ports, []string{fmt.Sprint(jackContainerPort)}) {
			t.Errorf("the policy applies to ports %v, want only Jack's [%d]", ports, jackContainerPort)
		}
		wantService := fmt.Sprintf("jack.%s.svc.cluster.local", namespace)
		if provider.Service != wantService || provider.Port != sidecarServicePort || provider.PathPrefix != authPath {
			t.Errorf("the provider asks %s:%d%s, want %s:%d%s", provider.Service, provider.Port, provider.PathPrefix, wantService, sidecarServicePort, authPath)
		}
		if !sameHeaders(provider.HeadersToUpstreamOnAllow, jack.IdentityHeaders) {
			t.Errorf("headersToUpstreamOnAllow is %v, want %v", provider.HeadersToUpstreamOnAllow, jack.IdentityHeaders)
		}
		if m := missingHeaders(provider.IncludeRequestHeadersInCheck, headersTheSidecarMustSee); len(m) > 0 {
			t.Errorf("includeRequestHeadersInCheck leaves out %v: the sidecar could not refuse them (and Istio sends no Authorization unless named)", m)
		}
		var toJack, toSidecar int
		for i, r := range list(s.find(t, "VirtualService", "jack").Object, "spec", "http") {
			port := num(r, "route", "0", "destination", "port", "number")
			prefix := str(r, "match", "0", "uri", "prefix")
			switch {
			case port == sidecarServicePort && prefix == authAPIPrefix+"/":
				toSidecar++
			case port == jackServicePort:
				toJack++
			default:
				t.Errorf("http route %d sends %q to port %d", i, prefix, port)
			}
		}
		if toJack == 0 || toSidecar == 0 {
			t.Errorf("%d routes reach Jack and %d the sidecar; want both", toJack, toSidecar)
		}
	})

	t.Run("ingress-nginx.yaml", func(t *testing.T) {
		s := samples["ingress-nginx.yaml"]
		const prefix = "nginx.ingress.kubernetes.io/"
		var toJack, toSidecar int
		for _, ing := range s.ofKind("Ingress") {
			a := ing.GetAnnotations()
			for _, p := range list(ing.Object, "spec", "rules", "0", "http", "paths") {
				switch port := str(p, "backend", "service", "port", "name"); port {
				case "http":
					toJack++
					if got := a[prefix+"auth-url"]; got != serviceURL {
						t.Errorf("Ingress %s: auth-url is %q, want %q", ing.GetName(), got, serviceURL)
					}
					if got := strings.Split(a[prefix+"auth-response-headers"], ","); !sameHeaders(got, jack.IdentityHeaders) {
						t.Errorf("Ingress %s: auth-response-headers is %v, want %v", ing.GetName(), got, jack.IdentityHeaders)
					}
					if _, ok := a[prefix+"auth-method"]; ok {
						t.Errorf("Ingress %s sets auth-method: ingress-nginx would send X-Original-URI beside X-Original-URL, two URIs the sidecar refuses", ing.GetName())
					}
				case jack.SidecarPortName:
					toSidecar++
					if str(p, "path") != authAPIPrefix || str(p, "pathType") != "Prefix" {
						t.Errorf("Ingress %s sends %s %q to the sidecar; want only the auth API", ing.GetName(), str(p, "pathType"), str(p, "path"))
					}
					for k := range a {
						if strings.HasPrefix(k, prefix+"auth-") {
							t.Errorf("Ingress %s, the auth API's, has %s: the sidecar answers the auth API itself", ing.GetName(), k)
						}
					}
				default:
					t.Errorf("Ingress %s goes to port %q", ing.GetName(), port)
				}
			}
		}
		if toJack == 0 || toSidecar == 0 {
			t.Errorf("%d paths reach Jack and %d the sidecar; want both", toJack, toSidecar)
		}
	})
}

// checkHTTPRoutes checks that every rule to Jack's port is guarded (as
// guarded says) and every rule to the sidecar's port serves only the auth
// API and is not.
func checkHTTPRoutes(t *testing.T, routes []*unstructured.Unstructured, guarded func(route *unstructured.Unstructured, rule any) bool) {
	t.Helper()
	var toJack, toSidecar int
	for _, route := range routes {
		for i, rule := range list(route.Object, "spec", "rules") {
			refs := list(rule, "backendRefs")
			if len(refs) != 1 || str(refs[0], "name") != "jack" {
				t.Errorf("HTTPRoute %s rule %d goes to %v, want one backend, Service jack", route.GetName(), i, refs)
				continue
			}
			switch port := num(refs[0], "port"); port {
			case jackServicePort:
				toJack++
				if !guarded(route, rule) {
					t.Errorf("HTTPRoute %s rule %d reaches Jack without asking the sidecar", route.GetName(), i)
				}
			case sidecarServicePort:
				toSidecar++
				if guarded(route, rule) {
					t.Errorf("HTTPRoute %s rule %d asks the sidecar about the auth API (it answers 421)", route.GetName(), i)
				}
				for _, m := range list(rule, "matches") {
					if str(m, "path", "type") != "PathPrefix" || str(m, "path", "value") != authAPIPrefix {
						t.Errorf("HTTPRoute %s rule %d sends %v to the sidecar; want only PathPrefix %s", route.GetName(), i, m, authAPIPrefix)
					}
				}
			default:
				t.Errorf("HTTPRoute %s rule %d goes to port %d", route.GetName(), i, port)
			}
		}
	}
	if toJack == 0 || toSidecar == 0 {
		t.Errorf("%d rules reach Jack and %d the sidecar; want both", toJack, toSidecar)
	}
}

// In forward-auth mode Jack listens on its pod's address: only the gateway
// may reach that port, or a client goes around the check. Istio enforces
// the check in the pod itself and needs only mTLS.
func TestJacksOwnPortAnswersOnlyTheGateway(t *testing.T) {
	for _, s := range loadSamples(t) {
		t.Run(s.file, func(t *testing.T) {
			if s.file == "istio.yaml" {
				pa := s.find(t, "PeerAuthentication", "jack")
				if str(pa.Object, "spec", "mtls", "mode") != "STRICT" || str(pa.Object, "spec", "selector", "matchLabels", "app.kubernetes.io/name") != "jack" {
					t.Errorf("PeerAuthentication jack is %v; want STRICT mTLS for Jack's pods", pa.Object["spec"])
				}
				return
			}
			nps := s.ofKind("NetworkPolicy")
			if len(nps) != 1 {
				t.Fatalf("%d NetworkPolicies, want one", len(nps))
			}
			np := nps[0].Object
			if str(np, "spec", "podSelector", "matchLabels", "app.kubernetes.io/name") != "jack" || !slices.Equal(stringList(np, "spec", "policyTypes"), []string{"Ingress"}) {
				t.Errorf("the NetworkPolicy does not restrict ingress to Jack's pods: %v", np["spec"])
			}
			guarded := false
			for i, rule := range list(np, "spec", "ingress") {
				var ports []string
				for _, p := range list(rule, "ports") {
					ports = append(ports, fmt.Sprint(must(get(p, "port"))))
				}
				from := list(rule, "from")
				switch {
				case slices.Equal(ports, []string{"http"}) && len(from) == 1 && str(from[0], "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name") != "":
					guarded = true
				case len(from) == 0 && !slices.Contains(ports, "http") && len(ports) > 0:
					// the sidecar's own ports, open to all
				default:
					t.Errorf("ingress rule %d lets %v reach ports %v", i, from, ports)
				}
			}
			if !guarded {
				t.Error("no ingress rule lets only the gateway's namespace reach Jack's port http")
			}
		})
	}
}

func must(v any, ok bool) any {
	if !ok {
		return nil
	}
	return v
}
