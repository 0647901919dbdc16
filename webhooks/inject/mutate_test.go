package inject

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/jack-io/jack-operator/api/jack"
)

func TestANativeSidecarIsTheFirstInitContainer(t *testing.T) {
	cfg := testConfig()
	pod := jackPod()
	injected(t, pod, []string{"blue"}, cfg)

	if got := containerNames(pod.Spec.InitContainers); got != "jack-auth,migrate" {
		t.Fatalf("init containers %s, want the sidecar before migrate", got)
	}
	if got := containerNames(pod.Spec.Containers); got != "jack" {
		t.Errorf("containers %s, want jack alone", got)
	}
	c := pod.Spec.InitContainers[0]
	if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("restartPolicy %v, want Always", c.RestartPolicy)
	}
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("startup probe %v, want /healthz", c.StartupProbe)
	}
	if _, ok := pod.Annotations[annotationDefaultContainer]; ok {
		t.Errorf("a native sidecar needs no default-container annotation")
	}
}

func TestARegularSidecarIsTheFirstContainer(t *testing.T) {
	cfg := testConfig()
	cfg.NativeSidecars = false
	pod := jackPod()
	injected(t, pod, []string{"blue"}, cfg)

	if got := containerNames(pod.Spec.Containers); got != "jack-auth,jack" {
		t.Fatalf("containers %s, want the sidecar before jack", got)
	}
	if got := containerNames(pod.Spec.InitContainers); got != "migrate" {
		t.Errorf("init containers %s, want migrate alone", got)
	}
	c := pod.Spec.Containers[0]
	if c.RestartPolicy != nil || c.StartupProbe != nil {
		t.Errorf("a regular container got restartPolicy %v, startup probe %v", c.RestartPolicy, c.StartupProbe)
	}
	if got := pod.Annotations[annotationDefaultContainer]; got != "jack" {
		t.Errorf("kubectl's default container is %q, want jack", got)
	}
}

func TestAnExistingDefaultContainerIsKept(t *testing.T) {
	cfg := testConfig()
	cfg.NativeSidecars = false
	pod := jackPod(annotated(annotationDefaultContainer, "other"))
	injected(t, pod, []string{"blue"}, cfg)
	if got := pod.Annotations[annotationDefaultContainer]; got != "other" {
		t.Errorf("kubectl's default container is %q, want the pod's own choice", got)
	}
}

func TestTheVolumesAreMountedInTheSidecarOnly(t *testing.T) {
	for _, native := range []bool{true, false} {
		cfg := testConfig()
		cfg.NativeSidecars = native
		cfg.PolicyConfigMap = "jack-policy"
		pod := jackPod()
		injected(t, pod, []string{"blue"}, cfg)

		for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for _, c := range cs {
				if c.Name == jack.SidecarContainerName {
					continue
				}
				for _, m := range c.VolumeMounts {
					if strings.HasPrefix(m.Name, jack.SidecarVolumePrefix) {
						t.Errorf("native=%v: container %s mounts %s", native, c.Name, m.Name)
					}
				}
				if !reflect.DeepEqual(c.VolumeMounts, []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}) {
					t.Errorf("native=%v: container %s's mounts changed: %v", native, c.Name, c.VolumeMounts)
				}
			}
		}
		got := map[string]corev1.VolumeMount{}
		for _, m := range sidecarOf(t, pod).VolumeMounts {
			got[m.Name] = m
		}
		want := map[string]corev1.VolumeMount{
			"jack-auth-keys":   {Name: "jack-auth-keys", MountPath: "/var/run/jack-auth/keys", ReadOnly: true},
			"jack-auth-api":    {Name: "jack-auth-api", MountPath: "/var/run/jack-auth/serviceaccount", ReadOnly: true},
			"jack-auth-users":  {Name: "jack-auth-users", MountPath: "/var/run/jack-auth/users", ReadOnly: true},
			"jack-auth-policy": {Name: "jack-auth-policy", MountPath: "/var/run/jack-auth/policy", ReadOnly: true},
			"jack-auth-state":  {Name: "jack-auth-state", MountPath: "/var/run/jack-auth/state"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("native=%v: sidecar mounts\n%v\nwant\n%v", native, got, want)
		}
	}
}

func TestTheVolumes(t *testing.T) {
	cfg := testConfig()
	cfg.PolicyConfigMap = "jack-policy"
	pod := jackPod()
	injected(t, pod, []string{"blue"}, cfg)

	if got := volumeList(pod); got != "data,jack-auth-keys,jack-auth-users,jack-auth-policy,jack-auth-state,jack-auth-api" {
		t.Fatalf("volumes %s", got)
	}
	keys := volumeByName(pod, "jack-auth-keys").Secret
	if keys == nil || keys.SecretName != "blue-jwt" || ptr.Deref(keys.Optional, true) ||
		!reflect.DeepEqual(keys.Items, []corev1.KeyToPath{{Key: "keyring.json", Path: "keyring.json"}}) {
		t.Errorf("key ring volume %+v, want the required Secret blue-jwt's keyring.json", keys)
	}
	users := volumeByName(pod, "jack-auth-users").Secret
	if users == nil || users.SecretName != jack.UserDirectorySecretName || !ptr.Deref(users.Optional, false) ||
		!reflect.DeepEqual(users.Items, []corev1.KeyToPath{{Key: "users.json.gz", Path: "users.json.gz"}}) {
		t.Errorf("user directory volume %+v, want the optional Secret jack-user-directory's users.json.gz", users)
	}
	policy := volumeByName(pod, "jack-auth-policy").ConfigMap
	if policy == nil || policy.Name != "jack-policy" || !ptr.Deref(policy.Optional, false) ||
		!reflect.DeepEqual(policy.Items, []corev1.KeyToPath{{Key: "policy.yaml", Path: "policy.yaml"}}) {
		t.Errorf("policy volume %+v, want the optional ConfigMap jack-policy's policy.yaml", policy)
	}
	for name, mode := range map[string]*int32{"keys": keys.DefaultMode, "users": users.DefaultMode, "policy": policy.DefaultMode} {
		if mode == nil || *mode&^0o440 != 0 {
			t.Errorf("the %s volume's mode is %o, want 0440 or stricter", name, ptr.Deref(mode, 0o644))
		}
	}
	if volumeByName(pod, "jack-auth-state").EmptyDir == nil {
		t.Errorf("the state volume is not an emptyDir")
	}
}

func TestTheKeyRingSecretNameComesFromTheConfiguration(t *testing.T) {
	cfg := testConfig()
	cfg.SecretNameFor = func(k string) string { return "custom-" + k }
	pod := jackPod()
	injected(t, pod, []string{"blue"}, cfg)
	if got := volumeByName(pod, "jack-auth-keys").Secret.SecretName; got != "custom-blue" {
		t.Errorf("key ring Secret %q, want custom-blue", got)
	}
}

func TestWithoutAPolicyConfigMapNoneIsMounted(t *testing.T) {
	pod := jackPod()
	injected(t, pod, []string{"blue"}, testConfig())
	if volumeByName(pod, "jack-auth-policy") != nil {
		t.Error("a policy volume was added without a policy ConfigMap")
	}
	for _, a := range sidecarOf(t, pod).Args {
		if strings.HasPrefix(a, "--policy") {
			t.Errorf("arg %s without a policy ConfigMap", a)
		}
	}
}

func TestTheSidecarsArgs(t *testing.T) {
	// Every sidecar reads the same files and shares logouts the same way.
	common := []string{"serve", "--listen=:8080", "--metrics-listen=:9090",
		"--keys=/var/run/jack-auth/keys/keyring.json", "--users=/var/run/jack-auth/users/users.json.gz",
		"--revocations=/var/run/jack-auth/state/revocations.jsonl",
		"--signing-key=blue", "--api-credentials=/var/run/jack-auth/serviceaccount"}
	cases := map[string]struct {
		annotations []string
		cfg         func(*Config)
		want        []string // after common
	}{
		"proxy mode forwards to Jack on localhost at the default port": {
			want: []string{"--forward-auth=auto", "--upstream=http://127.0.0.1:3000"},
		},
		"proxy mode forwards to the port the pod names": {
			annotations: []string{jack.AnnotationUpstreamPort, "8000"},
			want:        []string{"--forward-auth=auto", "--upstream=http://127.0.0.1:8000"},
		},
		"forward-auth mode has no upstream": {
			annotations: []string{jack.AnnotationMode, "forward-auth", jack.AnnotationUpstreamPort, "8000"},
			want:        []string{"--forward-auth=auto"},
		},
		"a policy ConfigMap is read from its mount": {
			cfg:  func(c *Config) { c.PolicyConfigMap = "jack-policy" },
			want: []string{"--policy=/var/run/jack-auth/policy/policy.yaml", "--forward-auth=auto", "--upstream=http://127.0.0.1:3000"},
		},
		"the operator's default dialect and trusted proxies reach every sidecar": {
			cfg: func(c *Config) {
				c.ForwardAuth = jack.ForwardAuthTraefik
				c.TrustedProxies = []string{"10.0.0.0/8", "fd00::/8"}
			},
			want: []string{"--forward-auth=traefik", "--trusted-proxies=10.0.0.0/8,fd00::/8", "--upstream=http://127.0.0.1:3000"},
		},
		"the pod's dialect and trusted proxies replace the operator's, as written": {
			annotations: []string{jack.AnnotationMode, "forward-auth", jack.AnnotationForwardAuth, " nginx\n",
				jack.AnnotationTrustedProxies, " 192.168.1.7 , ,2001:db8::/32\n"},
			cfg: func(c *Config) {
				c.ForwardAuth = jack.ForwardAuthTraefik
				c.TrustedProxies = []string{"10.0.0.0/8"}
			},
			want: []string{"--forward-auth=nginx", "--trusted-proxies=192.168.1.7,2001:db8::/32"},
		},
		"a pod in proxy mode may name its dialect and trusted proxies too": {
			annotations: []string{jack.AnnotationForwardAuth, "envoy", jack.AnnotationTrustedProxies, "10.1.0.0/16"},
			want:        []string{"--forward-auth=envoy", "--trusted-proxies=10.1.0.0/16", "--upstream=http://127.0.0.1:3000"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			pod := jackPod(annotated(tc.annotations...))
			injected(t, pod, []string{"blue"}, cfg)
			c := sidecarOf(t, pod)
			want := append(slices.Clone(common), tc.want...)
			if !slices.Equal(c.Args, want) {
				t.Errorf("args\n%q\nwant\n%q", c.Args, want)
			}
			if len(c.Command) != 0 {
				t.Errorf("command %q, want the image's entrypoint", c.Command)
			}
		})
	}
}

func TestTheSidecarIsHardened(t *testing.T) {
	for name, tc := range map[string]struct {
		fsGroup *int64
		group   int64
	}{
		"without an fsGroup it reads the root-group files as GID 0": {nil, 0},
		"with an fsGroup it reads through the fsGroup":              {ptr.To[int64](2000), DefaultRunAsUser},
	} {
		t.Run(name, func(t *testing.T) {
			pod := jackPod(func(p *corev1.Pod) {
				if tc.fsGroup != nil {
					p.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: tc.fsGroup}
				}
			})
			injected(t, pod, []string{"blue"}, testConfig())
			want := &corev1.SecurityContext{
				RunAsNonRoot:             ptr.To(true),
				RunAsUser:                ptr.To[int64](65532),
				RunAsGroup:               ptr.To(tc.group),
				ReadOnlyRootFilesystem:   ptr.To(true),
				AllowPrivilegeEscalation: ptr.To(false),
				Privileged:               ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			}
			if got := sidecarOf(t, pod).SecurityContext; !reflect.DeepEqual(got, want) {
				t.Errorf("security context\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestThePortsAndProbes(t *testing.T) {
	pod := jackPod()
	injected(t, pod, []string{"blue"}, testConfig())
	c := sidecarOf(t, pod)
	want := []corev1.ContainerPort{
		{Name: "jack-auth", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		{Name: "jack-auth-ops", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
	}
	if !reflect.DeepEqual(c.Ports, want) {
		t.Errorf("ports %+v, want %+v", c.Ports, want)
	}
	for _, p := range c.Ports {
		if msgs := validation.IsValidPortName(p.Name); len(msgs) > 0 {
			t.Errorf("port name %q is not valid: %v", p.Name, msgs)
		}
	}
	for name, tc := range map[string]struct {
		p      *corev1.Probe
		path   string
		period int32
	}{"readiness": {c.ReadinessProbe, "/readyz", 5}, "liveness": {c.LivenessProbe, "/healthz", 10}, "startup": {c.StartupProbe, "/healthz", 1}} {
		if tc.p == nil || tc.p.HTTPGet == nil {
			t.Errorf("no %s probe", name)
			continue
		}
		if tc.p.HTTPGet.Path != tc.path || tc.p.HTTPGet.Port.StrVal != "jack-auth-ops" || tc.p.PeriodSeconds != tc.period {
			t.Errorf("%s probe %s on %s every %ds, want %s on jack-auth-ops every %ds",
				name, tc.p.HTTPGet.Path, tc.p.HTTPGet.Port.String(), tc.p.PeriodSeconds, tc.path, tc.period)
		}
	}
}

func TestTheNamesAreValid(t *testing.T) {
	for _, n := range append([]string{jack.SidecarContainerName}, volumeNames...) {
		if msgs := validation.IsDNS1123Label(n); len(msgs) > 0 {
			t.Errorf("%q: %v", n, msgs)
		}
	}
	for _, k := range []string{
		jack.LabelInjection, jack.LabelInject, jack.AnnotationSigningKey, jack.AnnotationMode,
		jack.AnnotationUpstreamPort, jack.AnnotationSidecarCPURequest, jack.AnnotationSidecarCPULimit,
		jack.AnnotationSidecarMemoryRequest, jack.AnnotationSidecarMemoryLimit, jack.AnnotationInjectedVersion,
		jack.AnnotationForwardAuth, jack.AnnotationTrustedProxies,
	} {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			t.Errorf("%q: %v", k, msgs)
		}
	}
}

func TestOverridesReachTheSidecar(t *testing.T) {
	pod := jackPod(annotated(
		jack.AnnotationSidecarCPURequest, "50m",
		jack.AnnotationSidecarCPULimit, "500m",
		jack.AnnotationSidecarMemoryLimit, "256Mi",
	))
	injected(t, pod, []string{"blue"}, testConfig())
	want := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	got := sidecarOf(t, pod).Resources
	for _, l := range []struct {
		name      string
		got, want corev1.ResourceList
	}{{"requests", got.Requests, want.Requests}, {"limits", got.Limits, want.Limits}} {
		if len(l.got) != len(l.want) {
			t.Errorf("%s %v, want %v", l.name, l.got, l.want)
		}
		for k, w := range l.want {
			if g := l.got[k]; g.Cmp(w) != 0 {
				t.Errorf("%s.%s = %s, want %s", l.name, k, g.String(), w.String())
			}
		}
	}
}

func TestTheSidecarDoesNotShareTheConfigurationsMaps(t *testing.T) {
	cfg := testConfig()
	a, b := jackPod(), jackPod()
	injected(t, a, []string{"blue"}, cfg)
	injected(t, b, []string{"blue"}, cfg)
	sidecarOf(t, a).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("2")
	if got := sidecarOf(t, b).Resources.Requests[corev1.ResourceCPU]; got.Cmp(resource.MustParse("10m")) != 0 {
		t.Errorf("changing one pod's sidecar changed another's: %s", got.String())
	}
	if got := cfg.Resources.Requests[corev1.ResourceCPU]; got.Cmp(resource.MustParse("10m")) != 0 {
		t.Errorf("changing a pod's sidecar changed the configuration: %s", got.String())
	}
}

func TestInjectionIsIdempotent(t *testing.T) {
	for _, native := range []bool{true, false} {
		cfg := testConfig()
		cfg.NativeSidecars = native
		cfg.PolicyConfigMap = "jack-policy"
		pod := jackPod()
		d := injected(t, pod, []string{"blue"}, cfg)
		once := pod.DeepCopy()

		// A second webhook pass (reinvocationPolicy IfNeeded) decides to skip.
		again := Decide(pod, enabledNamespace(), []string{"blue"}, cfg)
		if again.Action != Skip || again.Reason != ReasonAlreadyInjected {
			t.Errorf("native=%v: second pass %s, want skip (AlreadyInjected)", native, again)
		}
		if again.Action == Inject {
			if err := Mutate(pod, again, cfg); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(once, pod) {
			t.Errorf("native=%v: a second Decide and Mutate changed the pod", native)
		}

		// Mutate itself is idempotent: the same decision applied again changes nothing.
		if err := Mutate(pod, d, cfg); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(once, pod) {
			t.Errorf("native=%v: Mutate applied twice differs from once:\n%s", native, diffJSON(once, pod))
		}

		// The webhook sees the pod again as JSON.
		var decoded corev1.Pod
		b, _ := json.Marshal(pod)
		if err := json.Unmarshal(b, &decoded); err != nil {
			t.Fatal(err)
		}
		if d := Decide(&decoded, enabledNamespace(), []string{"blue"}, cfg); d.Reason != ReasonAlreadyInjected {
			t.Errorf("native=%v: after a round trip through JSON: %s", native, d)
		}
	}
}

func TestAPodFromAnotherVersionHasItsSidecarReplaced(t *testing.T) {
	old := testConfig()
	old.Version = "v1.0.0"
	old.NativeSidecars = false
	old.Image = "registry.example.com/jack-auth:v1.0.0"
	pod := jackPod()
	injected(t, pod, []string{"blue"}, old)

	cfg := testConfig()
	cfg.PolicyConfigMap = "jack-policy"
	injected(t, pod, []string{"blue"}, cfg)

	if got := containerNames(pod.Spec.InitContainers) + "|" + containerNames(pod.Spec.Containers); got != "jack-auth,migrate|jack" {
		t.Errorf("containers %s, want one native sidecar", got)
	}
	if c := sidecarOf(t, pod); c.Image != cfg.Image {
		t.Errorf("image %s, want %s", c.Image, cfg.Image)
	}
	if got := volumeList(pod); got != "data,jack-auth-keys,jack-auth-users,jack-auth-policy,jack-auth-state,jack-auth-api" {
		t.Errorf("volumes %s", got)
	}
	if got := pod.Annotations[jack.AnnotationInjectedVersion]; got != testVersion {
		t.Errorf("injected version %q, want %q", got, testVersion)
	}
}

// After an upgrade, a pod created from a spec that already carries the old
// version's digest-pinned sidecar (a copied manifest, a pod re-created from
// its own) gets the new version's pinned image, once.
func TestAnUpgradedOperatorPinsItsOwnSidecarImage(t *testing.T) {
	pod := jackPod()
	injected(t, pod, []string{"blue"}, pinned(testConfig(), "v1.0.0", "aa"))
	cfg := pinned(testConfig(), testVersion, "bb")
	injected(t, pod, []string{"blue"}, cfg)
	if c := sidecarOf(t, pod); c.Image != cfg.Image {
		t.Errorf("image %s, want %s", c.Image, cfg.Image)
	}
	if got := containerNames(pod.Spec.InitContainers) + "|" + containerNames(pod.Spec.Containers); got != "jack-auth,migrate|jack" {
		t.Errorf("containers %s, want one sidecar", got)
	}
	if d := Decide(pod, enabledNamespace(), []string{"blue"}, cfg); d.Reason != ReasonAlreadyInjected {
		t.Errorf("a second pass: %s, want skip (AlreadyInjected)", d)
	}
}

func TestVolumesNamedLikeOursAreLeftAlone(t *testing.T) {
	pod := jackPod(func(p *corev1.Pod) {
		for _, n := range []string{"jack-auth", "jack-auth-keys-backup", "keys", "users"} {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: n, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}
	})
	injected(t, pod, []string{"blue"}, testConfig())
	if got := volumeList(pod); got != "data,jack-auth,jack-auth-keys-backup,keys,users,jack-auth-keys,jack-auth-users,jack-auth-state,jack-auth-api" {
		t.Errorf("volumes %s", got)
	}
	for _, n := range []string{"jack-auth", "jack-auth-keys-backup", "keys", "users"} {
		if v := volumeByName(pod, n); v.EmptyDir == nil {
			t.Errorf("the pod's volume %s changed: %+v", n, v)
		}
	}
}

func TestMutateRefusesWhatDecideRefuses(t *testing.T) {
	cfg := testConfig()
	for name, d := range map[string]Decision{
		"a skip":               {Action: Skip, Reason: ReasonNotOptedIn},
		"a refusal":            {Action: Refuse, Reason: ReasonNoSigningKey},
		"no SigningKey":        {Action: Inject, Mode: jack.SidecarModeProxy, UpstreamPort: 3000},
		"no mode":              {Action: Inject, SigningKey: "blue"},
		"proxy without a port": {Action: Inject, SigningKey: "blue", Mode: jack.SidecarModeProxy},
		"no dialect":           {Action: Inject, SigningKey: "blue", Mode: jack.SidecarModeForwardAuth},
		"an unknown dialect":   {Action: Inject, SigningKey: "blue", Mode: jack.SidecarModeForwardAuth, ForwardAuth: "haproxy"},
		"a trusted proxy that is no address": {Action: Inject, SigningKey: "blue", Mode: jack.SidecarModeForwardAuth,
			ForwardAuth: jack.ForwardAuthAuto, TrustedProxies: []string{"10.0.0.0/8,10.1.0.0/16"}},
	} {
		pod := jackPod()
		if err := Mutate(pod, d, cfg); err == nil {
			t.Errorf("%s: Mutate succeeded", name)
		}
		if !reflect.DeepEqual(pod, jackPod()) {
			t.Errorf("%s: Mutate changed the pod", name)
		}
	}
	// A pod whose volume name is taken is never stripped of its volume.
	pod := jackPod(func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "jack-auth-keys"})
	})
	d := Decide(jackPod(), enabledNamespace(), []string{"blue"}, cfg)
	before := pod.DeepCopy()
	if err := Mutate(pod, d, cfg); err == nil || !reflect.DeepEqual(pod, before) {
		t.Errorf("Mutate on a pod with a volume of the sidecar's name: %v", err)
	}
	// An invalid configuration injects nothing.
	bad := cfg
	bad.Image = ""
	if err := Mutate(jackPod(), d, bad); err == nil || !strings.Contains(err.Error(), "image is required") {
		t.Errorf("Mutate with no image: %v", err)
	}
}

func containerNames(cs []corev1.Container) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func volumeList(pod *corev1.Pod) string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		out = append(out, v.Name)
	}
	return strings.Join(out, ",")
}

func diffJSON(a, b *corev1.Pod) string {
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	return string(ja) + "\n---\n" + string(jb)
}

func TestTheSidecarGetsItsOwnAPICredentials(t *testing.T) {
	pod := jackPod(func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(false) })
	injected(t, pod, []string{"blue"}, testConfig())
	v := volumeByName(pod, volumeAPI)
	if v.Projected == nil || len(v.Projected.Sources) != 3 {
		t.Fatalf("the API credentials volume is %+v, want a projection of token, CA and namespace", v)
	}
	tok := v.Projected.Sources[0].ServiceAccountToken
	if tok == nil || tok.Path != "token" || tok.ExpirationSeconds == nil || *tok.ExpirationSeconds > 3607 {
		t.Errorf("the token projection is %+v, want a short-lived token at token", tok)
	}
	if v.Projected.DefaultMode == nil || *v.Projected.DefaultMode&0o007 != 0 {
		t.Errorf("the credentials are readable by others: mode %v", v.Projected.DefaultMode)
	}
	mounted := false
	for _, m := range sidecarOf(t, pod).VolumeMounts {
		if m.Name == volumeAPI {
			mounted = m.ReadOnly && m.MountPath == apiDir
		}
	}
	if !mounted {
		t.Errorf("the sidecar does not mount %s read-only at %s", volumeAPI, apiDir)
	}
	if pod.Spec.ServiceAccountName != "default" {
		t.Errorf("serviceAccountName %q, want default named for the projected token", pod.Spec.ServiceAccountName)
	}
	if a := pod.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Error("the pod's automountServiceAccountToken changed; the app container must not gain a token")
	}
}

func TestTheSidecarsGoRuntimeKnowsItsMemoryLimit(t *testing.T) {
	for name, tc := range map[string]struct {
		limits corev1.ResourceList
		want   []corev1.EnvVar
	}{
		"the chart's 128Mi limit":  {corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}, []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "120795948"}}},
		"a limit in decimal units": {corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1G")}, []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "900000000"}}},
		"no memory limit":          {corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}, nil},
		"no limits at all":         {nil, nil},
	} {
		t.Run(name, func(t *testing.T) {
			got := memoryLimitEnv(corev1.ResourceRequirements{Limits: tc.limits})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
