package inject

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
)

func TestDecide(t *testing.T) {
	one := []string{"blue"}
	two := []string{"green", "blue"}
	cases := map[string]struct {
		pod  *corev1.Pod
		ns   *corev1.Namespace // nil: enabledNamespace()
		noNS bool              // Decide gets a nil namespace
		keys []string
		cfg  func(*Config)

		action Action
		reason Reason
		key    string   // for inject
		says   []string // the message contains each
	}{
		// Skips.
		"a pod in kube-system is never injected, even in a labelled namespace": {
			pod: jackPod(), ns: namespace("kube-system", map[string]string{jack.LabelInjection: jack.InjectionEnabled}), keys: one,
			action: Skip, reason: ReasonProtectedNamespace, says: []string{`"kube-system"`},
		},
		"a pod in kube-node-lease is never injected": {
			pod: jackPod(), ns: namespace("kube-node-lease", map[string]string{jack.LabelInjection: jack.InjectionEnabled}), keys: one,
			action: Skip, reason: ReasonProtectedNamespace,
		},
		"a pod in the operator's own namespace is never injected": {
			pod: jackPod(), ns: namespace("jack-system", map[string]string{jack.LabelInjection: jack.InjectionEnabled}), keys: one,
			action: Skip, reason: ReasonProtectedNamespace, says: []string{`"jack-system"`},
		},
		"a pod in a namespace without the injection label is skipped": {
			pod: jackPod(), ns: namespace(testNamespace, nil), keys: one,
			action: Skip, reason: ReasonNamespaceNotEnabled, says: []string{"auth.jack.io/injection=enabled"},
		},
		"a pod in a namespace whose injection label is not enabled is skipped": {
			pod: jackPod(), ns: namespace(testNamespace, map[string]string{jack.LabelInjection: "disabled"}), keys: one,
			action: Skip, reason: ReasonNamespaceNotEnabled,
		},
		"a pod whose namespace is unknown is skipped": {
			pod: jackPod(), noNS: true, keys: one,
			action: Skip, reason: ReasonNamespaceNotEnabled,
		},
		"a pod without the inject label is skipped": {
			pod: jackPod(unlabelled(jack.LabelInject)), keys: one,
			action: Skip, reason: ReasonNotOptedIn, says: []string{"auth.jack.io/inject=true"},
		},
		"a pod labelled inject=false is skipped": {
			pod: jackPod(labelled(jack.LabelInject, "false")), keys: one,
			action: Skip, reason: ReasonNotOptedIn,
		},
		"a pod this version already injected is skipped": {
			pod: alreadyInjected(testConfig()), keys: one,
			action: Skip, reason: ReasonAlreadyInjected, says: []string{testVersion},
		},
		"a pod this version injected with a sidecar pinned by digest is skipped": {
			pod: alreadyInjected(pinned(testConfig(), testVersion, "aa")), keys: one, cfg: func(c *Config) { *c = pinned(*c, testVersion, "aa") },
			action: Skip, reason: ReasonAlreadyInjected, says: []string{testVersion},
		},
		// The version decides, not the image: a sidecar image changed without
		// an operator upgrade reaches pods as they are created anew.
		"a pod this version injected is skipped though the sidecar's digest changed since": {
			pod: alreadyInjected(pinned(testConfig(), testVersion, "aa")), keys: one, cfg: func(c *Config) { *c = pinned(*c, testVersion, "bb") },
			action: Skip, reason: ReasonAlreadyInjected, says: []string{testVersion},
		},

		// Refusals.
		"a pod whose inject label is neither true nor false is refused": {
			pod: jackPod(labelled(jack.LabelInject, "yes")), keys: one,
			action: Refuse, reason: ReasonInvalidLabel, says: []string{"auth.jack.io/inject", `"yes"`, `"true"`},
		},
		"a pod with a container of its own named jack-auth is refused": {
			pod: jackPod(func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "jack-auth", Image: "someone-elses:1"})
			}), keys: one,
			action: Refuse, reason: ReasonNameConflict, says: []string{`container named "jack-auth"`, "rename"},
		},
		"a pod with an init container of its own named jack-auth is refused": {
			pod: jackPod(func(p *corev1.Pod) {
				p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "jack-auth", Image: "someone-elses:1"})
			}), keys: one,
			action: Refuse, reason: ReasonNameConflict,
		},
		"a pod that already has a volume named like the sidecar's key ring is refused": {
			pod: jackPod(func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "jack-auth-keys", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			}), keys: one,
			action: Refuse, reason: ReasonNameConflict, says: []string{`volume named "jack-auth-keys"`, "rename"},
		},
		"a pod with a port named jack-auth is refused, since port names are unique in a pod": {
			pod: jackPod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "jack-auth" }), keys: one,
			action: Refuse, reason: ReasonNameConflict, says: []string{`container "jack"`, `port named "jack-auth"`},
		},
		"a pod on the host network is refused": {
			pod: jackPod(func(p *corev1.Pod) { p.Spec.HostNetwork = true }), keys: one,
			action: Refuse, reason: ReasonHostNetwork, says: []string{"hostNetwork", "auth.jack.io/inject"},
		},
		"an unknown mode is refused": {
			pod: jackPod(annotated(jack.AnnotationMode, "sidecar")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/mode", `"sidecar"`, `"proxy"`, `"forward-auth"`},
		},
		"an upstream port that is not a number is refused": {
			pod: jackPod(annotated(jack.AnnotationUpstreamPort, "http")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/upstream-port", `"http"`, "1 to 65535"},
		},
		"an upstream port out of range is refused": {
			pod: jackPod(annotated(jack.AnnotationUpstreamPort, "70000")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/upstream-port"},
		},
		"an upstream port that is the sidecar's own port is refused": {
			pod: jackPod(annotated(jack.AnnotationUpstreamPort, "8080")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/upstream-port", "8080", "sidecar itself listens on"},
		},
		"a CPU request that is not a quantity is refused": {
			pod: jackPod(annotated(jack.AnnotationSidecarCPURequest, "lots")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/sidecar-cpu-request", `"lots"`, "100m"},
		},
		"a CPU limit of zero is refused": {
			pod: jackPod(annotated(jack.AnnotationSidecarCPULimit, "0")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/sidecar-cpu-limit", "more than zero"},
		},
		"a negative memory limit is refused": {
			pod: jackPod(annotated(jack.AnnotationSidecarMemoryLimit, "-64Mi")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/sidecar-memory-limit", "64Mi"},
		},
		"a memory request above the default limit is refused, naming the limit's annotation": {
			pod: jackPod(annotated(jack.AnnotationSidecarMemoryRequest, "256Mi")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"256Mi", "128Mi", "auth.jack.io/sidecar-memory-limit"},
		},
		"an unknown forward-auth dialect is refused, naming every dialect": {
			pod: jackPod(annotated(jack.AnnotationMode, "forward-auth", jack.AnnotationForwardAuth, "haproxy")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation,
			says: []string{"auth.jack.io/forward-auth", `"haproxy"`, `"auto", "nginx", "traefik" or "envoy"`},
		},
		"a forward-auth dialect in another case is refused, like the sidecar's flag": {
			pod: jackPod(annotated(jack.AnnotationForwardAuth, "Traefik")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/forward-auth", `"Traefik"`},
		},
		"an empty forward-auth dialect is refused": {
			pod: jackPod(annotated(jack.AnnotationForwardAuth, "")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/forward-auth", `""`},
		},
		"a trusted proxy that is neither an address nor a CIDR is refused, quoting it": {
			pod: jackPod(annotated(jack.AnnotationTrustedProxies, "10.0.0.0/8, gateway.shop.svc")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation,
			says: []string{"auth.jack.io/trusted-proxies", `"gateway.shop.svc"`, "neither an address nor a CIDR", "10.0.0.0/8,192.168.1.7"},
		},
		"a CIDR with too many bits is refused": {
			pod: jackPod(annotated(jack.AnnotationTrustedProxies, "10.0.0.0/33")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/trusted-proxies", `"10.0.0.0/33"`},
		},
		"several bad trusted proxies are counted": {
			pod: jackPod(annotated(jack.AnnotationTrustedProxies, "10.0.0.0/8 192.168.0.0/16;fd00::/8,any,*")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{`"10.0.0.0/8 192.168.0.0/16;fd00::/8"`, "and 2 more entries"},
		},
		"an empty list of trusted proxies is refused rather than read as none": {
			pod: jackPod(annotated(jack.AnnotationTrustedProxies, " , ")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation, says: []string{"auth.jack.io/trusted-proxies", "is empty", "operator's default"},
		},
		"every bad annotation is reported at once": {
			pod: jackPod(annotated(jack.AnnotationMode, "Proxy", jack.AnnotationSidecarMemoryLimit, "a lot",
				jack.AnnotationForwardAuth, "nginx-ingress", jack.AnnotationTrustedProxies, "localhost")), keys: one,
			action: Refuse, reason: ReasonInvalidAnnotation,
			says: []string{"4 annotations need fixing", "auth.jack.io/mode", "auth.jack.io/sidecar-memory-limit", "auth.jack.io/forward-auth", "auth.jack.io/trusted-proxies"},
		},
		"a container that declares the sidecar's port is refused": {
			pod: jackPod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 8080 }), keys: one,
			action: Refuse, reason: ReasonPortConflict, says: []string{`container "jack"`, "8080"},
		},
		"an init container that declares the sidecar's metrics port is refused": {
			pod: jackPod(func(p *corev1.Pod) {
				p.Spec.InitContainers[0].Ports = []corev1.ContainerPort{{ContainerPort: 9090}}
			}), keys: one,
			action: Refuse, reason: ReasonPortConflict, says: []string{`container "migrate"`, "9090"},
		},
		"a pod that runs to completion is refused when the cluster has no native sidecars": {
			pod: jackPod(func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }), keys: one,
			cfg:    func(c *Config) { c.NativeSidecars = false },
			action: Refuse, reason: ReasonNativeSidecarsUnavailable, says: []string{"OnFailure", "ever completing", "auth.jack.io/inject"},
		},
		"a pod in a namespace without a SigningKey is refused": {
			pod: jackPod(), keys: nil,
			action: Refuse, reason: ReasonNoSigningKey, says: []string{`namespace "shop" has no SigningKey`, "create a SigningKey"},
		},
		"a pod that does not name one of several SigningKeys is refused": {
			pod: jackPod(), keys: two,
			action: Refuse, reason: ReasonAmbiguousSigningKey, says: []string{"2 SigningKeys (blue, green)", "auth.jack.io/signing-key"},
		},
		"a pod naming a SigningKey that does not exist is refused, with those that do": {
			pod: jackPod(annotated(jack.AnnotationSigningKey, "red")), keys: two,
			action: Refuse, reason: ReasonSigningKeyNotFound, says: []string{"auth.jack.io/signing-key", `"red"`, "one of: blue, green"},
		},
		"a pod naming a SigningKey in a namespace without any is refused": {
			pod: jackPod(annotated(jack.AnnotationSigningKey, "red")), keys: nil,
			action: Refuse, reason: ReasonSigningKeyNotFound, says: []string{`"red"`, "has no SigningKey"},
		},

		// Injections.
		"the namespace's only SigningKey is used": {
			pod: jackPod(), keys: one,
			action: Inject, reason: ReasonInjected, key: "blue", says: []string{`"blue"`, "127.0.0.1:3000"},
		},
		"the SigningKey the pod names is used among several": {
			pod: jackPod(annotated(jack.AnnotationSigningKey, "green")), keys: two,
			action: Inject, reason: ReasonInjected, key: "green",
		},
		"an empty signing-key annotation counts as none": {
			pod: jackPod(annotated(jack.AnnotationSigningKey, "")), keys: one,
			action: Inject, reason: ReasonInjected, key: "blue",
		},
		"a UDP port with the sidecar's number is no conflict": {
			pod: jackPod(func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 8080, Protocol: corev1.ProtocolUDP})
			}), keys: one,
			action: Inject, reason: ReasonInjected, key: "blue",
		},
		"a pod that runs to completion is injected when the cluster has native sidecars": {
			pod: jackPod(func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }), keys: one,
			action: Inject, reason: ReasonInjected, key: "blue",
		},
		"a pod the previous version injected, pinned by digest, is injected again by the upgraded operator": {
			pod: alreadyInjected(pinned(testConfig(), "v1.0.0", "aa")), keys: one, cfg: func(c *Config) { *c = pinned(*c, testVersion, "bb") },
			action: Inject, reason: ReasonInjected, key: "blue", says: []string{`"v1.0.0"`, "replaced by version " + testVersion},
		},
		"a pod injected by another operator version is injected again, not refused": {
			pod: alreadyInjected(func() Config { c := testConfig(); c.Version = "v1.0.0"; return c }()), keys: one,
			action: Inject, reason: ReasonInjected, key: "blue", says: []string{"v1.0.0", "replaced", testVersion},
		},
		"a pod carrying the injected annotation without the sidecar is injected": {
			pod: jackPod(annotated(jack.AnnotationInjectedVersion, testVersion)), keys: one,
			action: Inject, reason: ReasonInjected, key: "blue",
		},
		"a pod in forward-auth mode is injected": {
			pod: jackPod(annotated(jack.AnnotationMode, "forward-auth")), keys: one,
			action: Inject, reason: ReasonInjected, key: "blue", says: []string{"forward-auth", "dialect auto"},
		},
		"a pod naming its gateway's dialect and address is injected, saying so": {
			pod: jackPod(annotated(jack.AnnotationMode, "forward-auth", jack.AnnotationForwardAuth, "envoy",
				jack.AnnotationTrustedProxies, "10.0.0.0/8,fe80::1%eth0,::ffff:192.168.1.7")), keys: one,
			action: Inject, reason: ReasonInjected, key: "blue",
			says: []string{"dialect envoy", "trusting the gateways at 10.0.0.0/8, fe80::1%eth0, ::ffff:192.168.1.7"},
		},
	}
	seen := map[Reason]bool{}
	for name, tc := range cases {
		seen[tc.reason] = true
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			ns := tc.ns
			if ns == nil && !tc.noNS {
				ns = enabledNamespace()
			}
			before := tc.pod.DeepCopy()
			got := Decide(tc.pod, ns, tc.keys, cfg)
			if got.Action != tc.action || got.Reason != tc.reason {
				t.Fatalf("Decide = %s\nwant %s (%s)", got, tc.action, tc.reason)
			}
			if got.Action == Inject && got.SigningKey != tc.key {
				t.Errorf("SigningKey = %q, want %q", got.SigningKey, tc.key)
			}
			for _, s := range tc.says {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q does not say %q", got.Message, s)
				}
			}
			if got.Message == "" || strings.ContainsAny(got.Message, "\n\r") {
				t.Errorf("message %q is not one line", got.Message)
			}
			if Reasons()[got.Reason] != got.Action {
				t.Errorf("Reasons() lists %s under %q, not %q", got.Reason, Reasons()[got.Reason], got.Action)
			}
			if !reflect.DeepEqual(before, tc.pod) {
				t.Error("Decide changed the pod")
			}
		})
	}
	for r := range Reasons() {
		if !seen[r] {
			t.Errorf("no case decides %s", r)
		}
	}
}

// pinned is cfg as an operator of version v runs it with the sidecar image
// pinned by a digest of 32 bytes b.
func pinned(cfg Config, v, b string) Config {
	cfg.Version = v
	cfg.Image = "registry.example.com/jack/jack-auth:" + v + "@sha256:" + strings.Repeat(b, 32)
	return cfg
}

// alreadyInjected is jackPod as cfg injected it.
func alreadyInjected(cfg Config) *corev1.Pod {
	p := jackPod()
	d := Decide(p, enabledNamespace(), []string{"blue"}, cfg)
	if err := Mutate(p, d, cfg); err != nil {
		panic(err)
	}
	return p
}

func TestDecideResolvesOverrides(t *testing.T) {
	pod := jackPod(annotated(
		jack.AnnotationMode, "proxy",
		jack.AnnotationUpstreamPort, " 8000\n", // a YAML block scalar's newline
		jack.AnnotationSidecarCPURequest, "50m",
		jack.AnnotationSidecarCPULimit, "1",
		jack.AnnotationSidecarMemoryRequest, "64Mi",
		jack.AnnotationSidecarMemoryLimit, "256Mi",
		jack.AnnotationForwardAuth, "traefik\n",
		jack.AnnotationTrustedProxies, "10.0.0.0/8,\n  192.168.1.7\n",
	))
	cfg := testConfig()
	cfg.TrustedProxies = []string{"172.16.0.0/12"}
	d := Decide(pod, enabledNamespace(), []string{"blue"}, cfg)
	if d.Action != Inject {
		t.Fatalf("Decide = %s", d)
	}
	if d.Mode != jack.SidecarModeProxy || d.UpstreamPort != 8000 {
		t.Errorf("mode %q port %d, want proxy 8000", d.Mode, d.UpstreamPort)
	}
	if d.ForwardAuth != jack.ForwardAuthTraefik || !slices.Equal(d.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.7"}) {
		t.Errorf("dialect %q trusted proxies %q, want traefik and the pod's two, replacing the operator's", d.ForwardAuth, d.TrustedProxies)
	}
	want := map[string]string{"requests.cpu": "50m", "limits.cpu": "1", "requests.memory": "64Mi", "limits.memory": "256Mi"}
	got := map[string]string{
		"requests.cpu": qty(d.Resources.Requests, corev1.ResourceCPU), "limits.cpu": qty(d.Resources.Limits, corev1.ResourceCPU),
		"requests.memory": qty(d.Resources.Requests, corev1.ResourceMemory), "limits.memory": qty(d.Resources.Limits, corev1.ResourceMemory),
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s = %q, want %q", k, got[k], want[k])
		}
	}
	if cpu := cfg.Resources.Requests[corev1.ResourceCPU]; cpu.String() != "10m" {
		t.Errorf("the configuration's CPU request became %s", cpu.String())
	}
}

func TestDecideUsesDefaultsWithoutAnnotations(t *testing.T) {
	cfg := testConfig()
	cfg.Mode = jack.SidecarModeForwardAuth
	cfg.ForwardAuth = jack.ForwardAuthNginx
	cfg.TrustedProxies = []string{"10.0.0.0/8"}
	d := Decide(jackPod(), enabledNamespace(), []string{"blue"}, cfg)
	if d.Mode != jack.SidecarModeForwardAuth || d.UpstreamPort != DefaultUpstreamPort {
		t.Errorf("mode %q port %d, want the configuration's", d.Mode, d.UpstreamPort)
	}
	if d.ForwardAuth != jack.ForwardAuthNginx || !slices.Equal(d.TrustedProxies, cfg.TrustedProxies) {
		t.Errorf("dialect %q trusted proxies %q, want the configuration's", d.ForwardAuth, d.TrustedProxies)
	}
	d.TrustedProxies[0] = "0.0.0.0/0"
	if cfg.TrustedProxies[0] != "10.0.0.0/8" {
		t.Error("a decision shares its trusted proxies with the configuration")
	}
	if qty(d.Resources.Requests, corev1.ResourceMemory) != "32Mi" || qty(d.Resources.Limits, corev1.ResourceMemory) != "128Mi" ||
		qty(d.Resources.Requests, corev1.ResourceCPU) != "10m" || qty(d.Resources.Limits, corev1.ResourceCPU) != "" {
		t.Errorf("resources %v, want the defaults", d.Resources)
	}
}

func TestEveryProtectedNamespaceIsSkipped(t *testing.T) {
	for _, ns := range []string{"kube-system", "kube-public", "kube-node-lease", "jack-system"} {
		d := Decide(jackPod(), namespace(ns, map[string]string{jack.LabelInjection: jack.InjectionEnabled}), []string{"blue"}, testConfig())
		if d.Reason != ReasonProtectedNamespace {
			t.Errorf("in %s: %s, want ProtectedNamespace", ns, d)
		}
	}
}

func TestRefusalsQuoteLongValuesShort(t *testing.T) {
	long := strings.Repeat("é", 500)
	d := Decide(jackPod(annotated(jack.AnnotationMode, long)), enabledNamespace(), []string{"blue"}, testConfig())
	if d.Action != Refuse || len(d.Message) > 400 {
		t.Errorf("Decide = %s (%d bytes), want a short refusal", d, len(d.Message))
	}
}

func TestManySigningKeysAreListedShort(t *testing.T) {
	var keys []string
	for i := range 25 {
		keys = append(keys, "key-"+string(rune('a'+i)))
	}
	d := Decide(jackPod(), enabledNamespace(), keys, testConfig())
	if d.Reason != ReasonAmbiguousSigningKey || !strings.Contains(d.Message, "and 15 more") {
		t.Errorf("Decide = %s", d)
	}
}

func TestEventTypes(t *testing.T) {
	for _, tc := range []struct {
		a    Action
		want string
	}{{Inject, corev1.EventTypeNormal}, {Refuse, corev1.EventTypeWarning}, {Skip, ""}} {
		if got := (Decision{Action: tc.a}).EventType(); got != tc.want {
			t.Errorf("%s: event type %q, want %q", tc.a, got, tc.want)
		}
	}
}

func qty(l corev1.ResourceList, name corev1.ResourceName) string {
	q, ok := l[name]
	if !ok {
		return ""
	}
	return q.String()
}
