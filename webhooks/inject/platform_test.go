package inject

import (
	"flag"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// The sidecar's image pull Secrets join the pod's own, once each, whatever
// the pod already lists and however often the webhook sees it.
func TestTheSidecarsImagePullSecretsJoinThePods(t *testing.T) {
	refs := func(names ...string) []corev1.LocalObjectReference {
		var out []corev1.LocalObjectReference
		for _, n := range names {
			out = append(out, corev1.LocalObjectReference{Name: n})
		}
		return out
	}
	cases := map[string]struct {
		pod, sidecar []string
		want         []corev1.LocalObjectReference
	}{
		"none configured leaves the pod's alone":           {pod: []string{"app-pull"}, want: refs("app-pull")},
		"none configured and none in the pod adds nothing": {want: nil},
		"a pod without any gets the sidecar's":             {sidecar: []string{"regcred"}, want: refs("regcred")},
		"the pod's own come first, the sidecar's after":    {pod: []string{"app-pull"}, sidecar: []string{"regcred", "mirror"}, want: refs("app-pull", "regcred", "mirror")},
		"one the pod already lists is not added twice":     {pod: []string{"regcred", "app-pull"}, sidecar: []string{"regcred"}, want: refs("regcred", "app-pull")},
		"a name configured twice is added once":            {sidecar: []string{"regcred", "regcred"}, want: refs("regcred")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ImagePullSecrets = c.sidecar
			pod := jackPod(func(p *corev1.Pod) { p.Spec.ImagePullSecrets = refs(c.pod...) })
			d := injected(t, pod, []string{"blue"}, cfg)
			if !reflect.DeepEqual(pod.Spec.ImagePullSecrets, c.want) {
				t.Errorf("imagePullSecrets = %v, want %v", pod.Spec.ImagePullSecrets, c.want)
			}
			// Applying the decision again (Mutate is idempotent) changes nothing.
			again := pod.DeepCopy()
			if err := Mutate(again, d, cfg); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again.Spec.ImagePullSecrets, c.want) {
				t.Errorf("after a second pass imagePullSecrets = %v, want %v", again.Spec.ImagePullSecrets, c.want)
			}
		})
	}
}

func TestTheSidecarsFlagsForOpenShiftAndPrivateRegistries(t *testing.T) {
	cfg := testConfig()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.AddFlags(fs)
	if err := fs.Parse([]string{"--sidecar-omit-run-as-user", "--sidecar-image-pull-secrets=regcred, mirror", "--sidecar-image-pull-secrets=third"}); err != nil {
		t.Fatal(err)
	}
	if !cfg.OmitRunAsUser || !reflect.DeepEqual(cfg.ImagePullSecrets, []string{"regcred", "mirror", "third"}) {
		t.Errorf("parsed OmitRunAsUser %v, ImagePullSecrets %q", cfg.OmitRunAsUser, cfg.ImagePullSecrets)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid flags refused: %v", err)
	}
	cfg.ImagePullSecrets = []string{"Not_A_Name"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `image pull Secret "Not_A_Name" is not a valid Secret name`) {
		t.Errorf("an invalid Secret name: %v", err)
	}
}

// Where the platform assigns UIDs (OpenShift's restricted-v2 SCC), the
// sidecar asks for none and still may not run as root.
func TestWithoutAFixedUIDThePlatformPicksIt(t *testing.T) {
	cases := map[string]struct {
		fsGroup   *int64
		wantGroup *int64
	}{
		"without an fsGroup it keeps GID 0 to read the root-group Secret files": {wantGroup: ptr.To[int64](0)},
		"with an fsGroup the files' group is fsGroup and no GID is fixed":       {fsGroup: ptr.To[int64](1000680000), wantGroup: nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.OmitRunAsUser = true
			pod := jackPod(func(p *corev1.Pod) {
				if c.fsGroup != nil {
					p.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: c.fsGroup}
				}
			})
			injected(t, pod, []string{"blue"}, cfg)
			sc := sidecarOf(t, pod).SecurityContext
			if sc.RunAsUser != nil {
				t.Errorf("runAsUser = %d, want none", *sc.RunAsUser)
			}
			if !reflect.DeepEqual(sc.RunAsGroup, c.wantGroup) {
				t.Errorf("runAsGroup = %v, want %v", ptrString(sc.RunAsGroup), ptrString(c.wantGroup))
			}
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
				sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("the rest of the hardening is lost: %+v", sc)
			}
		})
	}

	// By default the UID stays fixed.
	pod := jackPod()
	injected(t, pod, []string{"blue"}, testConfig())
	if sc := sidecarOf(t, pod).SecurityContext; sc.RunAsUser == nil || *sc.RunAsUser != DefaultRunAsUser {
		t.Errorf("default runAsUser = %v, want %d", ptrString(sc.RunAsUser), DefaultRunAsUser)
	}
}

func ptrString(p *int64) string {
	if p == nil {
		return "none"
	}
	return strconv.FormatInt(*p, 10)
}
