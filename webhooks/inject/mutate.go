package inject

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/jack-io/jack-operator/api/jack"
)

// Where the sidecar finds its files. They are passed as flags, so the
// sidecar's own defaults do not have to agree; the file names are the data
// keys of the Secrets and the ConfigMap.
const (
	mountRoot       = "/var/run/jack-auth"
	keysDir         = mountRoot + "/keys"
	usersDir        = mountRoot + "/users"
	policyDir       = mountRoot + "/policy"
	stateDir        = mountRoot + "/state"
	apiDir          = mountRoot + "/serviceaccount"
	revocationsFile = "revocations.jsonl"
)

// apiTokenSeconds is the lifetime of the sidecar's service account token,
// the kubelet's own default: it refreshes the file at 80% of it, and the
// sidecar rereads the file.
const apiTokenSeconds int64 = 3607

// The sidecar's volumes. They are mounted in the sidecar container only.
const (
	volumeKeys   = jack.SidecarVolumePrefix + "keys"
	volumeUsers  = jack.SidecarVolumePrefix + "users"
	volumePolicy = jack.SidecarVolumePrefix + "policy"
	volumeState  = jack.SidecarVolumePrefix + "state"
	volumeAPI    = jack.SidecarVolumePrefix + "api"
)

// volumeNames are every volume name the sidecar may use, reserved whether or
// not the policy ConfigMap is configured.
var volumeNames = []string{volumeKeys, volumeUsers, volumePolicy, volumeState, volumeAPI}

// fileMode of the mounted Secret and ConfigMap files: read by owner and
// group, nothing for others. The kubelet writes them as root, group root, or
// group fsGroup when the pod sets one; see sidecarGroup.
const fileMode int32 = 0o440

// annotationDefaultContainer is kubectl's: the container that kubectl logs
// and exec use when none is named.
const annotationDefaultContainer = "kubectl.kubernetes.io/default-container"

// Mutate adds the sidecar to pod as decided by Decide for the same pod, and
// marks the pod with AnnotationInjectedVersion. It is idempotent: a sidecar
// and volumes the webhook added before are replaced, not duplicated, so
// applying the same decision twice leaves the pod as once.
//
// It adds a container named SidecarContainerName, first among the init
// containers with restartPolicy Always when cfg.NativeSidecars, else first
// among the containers; and its volumes, mounted in that container only. No
// other container is changed.
func Mutate(pod *corev1.Pod, d Decision, cfg Config) error {
	if d.Action != Inject {
		return fmt.Errorf("inject: Mutate applies an %q decision, not %q (%s)", Inject, d.Action, d.Reason)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if d.SigningKey == "" {
		return errors.New("inject: the decision names no SigningKey")
	}
	if !validMode(d.Mode) {
		return fmt.Errorf("inject: the decision's mode %q is not %q or %q", d.Mode, jack.SidecarModeProxy, jack.SidecarModeForwardAuth)
	}
	if d.Mode == jack.SidecarModeProxy && (d.UpstreamPort < 1 || d.UpstreamPort > 65535) {
		return fmt.Errorf("inject: the decision's upstream port %d is not from 1 to 65535", d.UpstreamPort)
	}
	if !validDialect(d.ForwardAuth) {
		return fmt.Errorf("inject: the decision's forward-auth dialect %q is not %s", d.ForwardAuth, dialectList())
	}
	for _, p := range d.TrustedProxies {
		if !validTrustedProxy(p) {
			return fmt.Errorf("inject: the decision's trusted proxy %s is neither an address nor a CIDR", quote(p))
		}
	}
	secret := cfg.secretName(d.SigningKey)
	if secret == "" {
		return fmt.Errorf("inject: no key ring Secret name for SigningKey %q", d.SigningKey)
	}
	// Decide refuses such a pod; never remove what is not the webhook's.
	if pod.Annotations[jack.AnnotationInjectedVersion] == "" {
		if msg := nameConflict(pod, false); msg != "" {
			return fmt.Errorf("inject: %s", msg)
		}
	}

	isSidecar := func(c corev1.Container) bool { return c.Name == jack.SidecarContainerName }
	pod.Spec.InitContainers = slices.DeleteFunc(pod.Spec.InitContainers, isSidecar)
	pod.Spec.Containers = slices.DeleteFunc(pod.Spec.Containers, isSidecar)
	pod.Spec.Volumes = slices.DeleteFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return slices.Contains(volumeNames, v.Name) })

	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	c := sidecar(pod, d, cfg)
	if cfg.NativeSidecars {
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		c.StartupProbe = probe("/healthz", cfg.Startup)
		pod.Spec.InitContainers = slices.Insert(pod.Spec.InitContainers, 0, c)
	} else {
		// The sidecar goes first; keep kubectl logs and exec going to Jack.
		if _, ok := pod.Annotations[annotationDefaultContainer]; !ok && len(pod.Spec.Containers) > 0 {
			pod.Annotations[annotationDefaultContainer] = pod.Spec.Containers[0].Name
		}
		pod.Spec.Containers = slices.Insert(pod.Spec.Containers, 0, c)
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, volumes(secret, cfg)...)
	pod.Spec.ImagePullSecrets = withPullSecrets(pod.Spec.ImagePullSecrets, cfg.ImagePullSecrets)
	// The projected token needs a named service account. The API server's
	// ServiceAccount admission plugin names "default" before webhooks run;
	// naming it here too keeps the pod valid where that plugin is off.
	if pod.Spec.ServiceAccountName == "" && pod.Spec.DeprecatedServiceAccount == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	pod.Annotations[jack.AnnotationInjectedVersion] = cfg.Version
	// Whatever selector chose it, an injected pod carries the opt-in label:
	// the operator finds the sidecars it grants access to and asks about
	// key rotation by that one label.
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[jack.LabelInject] = jack.InjectRequested
	return nil
}

// sidecar is the jack-auth container, without what depends on whether it is
// native.
func sidecar(pod *corev1.Pod, d Decision, cfg Config) corev1.Container {
	args := []string{
		"serve",
		"--listen=:" + strconv.Itoa(int(cfg.Port)),
		"--metrics-listen=:" + strconv.Itoa(int(cfg.MetricsPort)),
		"--keys=" + keysDir + "/" + jack.SecretKeyKeyRing,
		"--users=" + usersDir + "/" + jack.SecretKeyUserDirectory,
		"--revocations=" + stateDir + "/" + revocationsFile,
		"--signing-key=" + d.SigningKey,
		"--api-credentials=" + apiDir,
	}
	mounts := []corev1.VolumeMount{
		{Name: volumeKeys, MountPath: keysDir, ReadOnly: true},
		{Name: volumeUsers, MountPath: usersDir, ReadOnly: true},
	}
	if cfg.PolicyConfigMap != "" {
		args = append(args, "--policy="+policyDir+"/"+jack.ConfigMapKeyPolicy)
		mounts = append(mounts, corev1.VolumeMount{Name: volumePolicy, MountPath: policyDir, ReadOnly: true})
	}
	mounts = append(mounts,
		corev1.VolumeMount{Name: volumeState, MountPath: stateDir},
		corev1.VolumeMount{Name: volumeAPI, MountPath: apiDir, ReadOnly: true})
	// Always explicit, so a pod's spec says which dialect its /auth reads
	// whatever the sidecar's own default.
	args = append(args, "--forward-auth="+string(d.ForwardAuth))
	if len(d.TrustedProxies) > 0 {
		args = append(args, "--trusted-proxies="+strings.Join(d.TrustedProxies, ","))
	}
	if d.Mode == jack.SidecarModeProxy {
		args = append(args, "--upstream=http://127.0.0.1:"+strconv.Itoa(int(d.UpstreamPort)))
	}
	c := corev1.Container{
		Name:            jack.SidecarContainerName,
		Image:           cfg.Image,
		ImagePullPolicy: cfg.ImagePullPolicy,
		Args:            args,
		Ports: []corev1.ContainerPort{
			{Name: jack.SidecarPortName, ContainerPort: cfg.Port, Protocol: corev1.ProtocolTCP},
			{Name: jack.SidecarOpsPortName, ContainerPort: cfg.MetricsPort, Protocol: corev1.ProtocolTCP},
		},
		Resources:      *d.Resources.DeepCopy(),
		Env:            memoryLimitEnv(d.Resources),
		VolumeMounts:   mounts,
		ReadinessProbe: probe("/readyz", cfg.Readiness),
		LivenessProbe:  probe("/healthz", cfg.Liveness),
		// A crash's last log lines show in the pod's status.
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr.To(true),
			RunAsUser:                ptr.To(cfg.RunAsUser),
			RunAsGroup:               ptr.To(sidecarGroup(pod, cfg)),
			ReadOnlyRootFilesystem:   ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false),
			Privileged:               ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if cfg.OmitRunAsUser {
		withoutFixedUID(pod, c.SecurityContext)
	}
	return c
}

// sidecarGroup is the sidecar's primary GID. The kubelet writes Secret and
// ConfigMap files as owner root and group root, or group fsGroup when the
// pod sets one (and fsGroup is then among every container's groups). With
// fileMode 0440 a non-root UID reads them only through the group: through
// fsGroup when the pod has one, so the sidecar keeps its own GID; otherwise
// as GID 0, which gives a non-root process no privilege beyond reading files
// whose group is root.
func sidecarGroup(pod *corev1.Pod, cfg Config) int64 {
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		return cfg.RunAsUser
	}
	return 0
}

func probe(path string, t ProbeTiming) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path:   path,
			Port:   intstr.FromString(jack.SidecarOpsPortName),
			Scheme: corev1.URISchemeHTTP,
		}},
		InitialDelaySeconds: t.InitialDelaySeconds,
		PeriodSeconds:       t.PeriodSeconds,
		TimeoutSeconds:      t.TimeoutSeconds,
		FailureThreshold:    t.FailureThreshold,
		SuccessThreshold:    1,
	}
}

// volumes are the sidecar's. The key ring Secret is required: the kubelet
// waits for it before starting the pod, and says why in the pod's events.
// The user directory Secret is optional, since it exists only once the
// namespace has a JackUser: the sidecar then starts not ready and becomes
// ready when the kubelet fills the volume. The policy ConfigMap is optional,
// the sidecar using Jack's seed table until it exists.
func volumes(keyRingSecret string, cfg Config) []corev1.Volume {
	vs := []corev1.Volume{
		{Name: volumeKeys, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  keyRingSecret,
			Items:       []corev1.KeyToPath{{Key: jack.SecretKeyKeyRing, Path: jack.SecretKeyKeyRing}},
			DefaultMode: ptr.To(fileMode),
			Optional:    ptr.To(false),
		}}},
		{Name: volumeUsers, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  jack.UserDirectorySecretName,
			Items:       []corev1.KeyToPath{{Key: jack.SecretKeyUserDirectory, Path: jack.SecretKeyUserDirectory}},
			DefaultMode: ptr.To(fileMode),
			Optional:    ptr.To(true),
		}}},
	}
	if cfg.PolicyConfigMap != "" {
		vs = append(vs, corev1.Volume{Name: volumePolicy, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: cfg.PolicyConfigMap},
			Items:                []corev1.KeyToPath{{Key: jack.ConfigMapKeyPolicy, Path: jack.ConfigMapKeyPolicy}},
			DefaultMode:          ptr.To(fileMode),
			Optional:             ptr.To(true),
		}}})
	}
	return append(vs,
		corev1.Volume{Name: volumeState, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		apiVolume())
}

// apiVolume is the sidecar's own credentials for the API server: a token of
// the pod's service account, the cluster's CA and the namespace, in the
// layout of the automounted service account directory. It is projected for
// the sidecar even when the pod turns automounting off, and mounted in the
// sidecar only. What the token may do is the Role jack.SidecarRoleName the
// operator keeps in the namespace: read JackUsers, read and create
// TokenRevocations, nothing else.
func apiVolume() corev1.Volume {
	return corev1.Volume{Name: volumeAPI, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To(fileMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To(apiTokenSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}}}
}

// memoryLimitEnv tells the Go runtime in the sidecar its container's memory
// limit, less a tenth for what the runtime does not count (stacks of
// goroutines being created, the binary): under a flood of slow connections
// it then collects harder instead of growing past the limit and being
// killed (measured: a 156 MiB peak without, 103 MiB with 100 MiB for a
// 128 MiB limit; docs/performance.md). Without a limit, nothing is set.
func memoryLimitEnv(r corev1.ResourceRequirements) []corev1.EnvVar {
	limit, ok := r.Limits[corev1.ResourceMemory]
	if !ok || limit.Value() <= 0 {
		return nil
	}
	return []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: strconv.FormatInt(limit.Value()/10*9, 10)}}
}
