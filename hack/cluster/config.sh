# shellcheck shell=bash
# The local cluster's certificates and configuration files, sourced by
# cluster.sh. Every function writes under $state only.

# cert NAME CN ORG USAGE [SANS]: a P-256 key and a certificate for it signed
# by the cluster's CA, for USAGE clientAuth or serverAuth.
cert() {
  local name=$1 cn=$2 org=$3 usage=$4 sans=${5:-}
  local subj="/CN=$cn"
  [ -z "$org" ] || subj="/O=$org$subj"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -z "$sans" ] || echo "subjectAltName=$sans"
  } >"$pki/$name.ext"
  openssl req -new -key "$pki/$name.key" -subj "$subj" |
    openssl x509 -req -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 365 \
      -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.ext"
}

write_pki() {
  mkdir -p "$pki"
  chmod 700 "$pki"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=jack-cluster-ca" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$pki/ca.crt" 2>/dev/null
  cert apiserver kube-apiserver "" serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$SERVICE_IP"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
  cert admin kubernetes-admin system:masters clientAuth
  cert controller-manager system:kube-controller-manager "" clientAuth
  cert scheduler system:kube-scheduler "" clientAuth
  cert kubelet "system:node:$NODE_NAME" system:nodes clientAuth
  cert kube-proxy system:kube-proxy "" clientAuth
  # The key service account tokens are signed with.
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# kubeconfig FILE SERVER USER: a kubeconfig for the client certificate USER.
kubeconfig() {
  local file=$1 server=$2 user=$3
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: jack-cluster
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$pki/$user.crt")
    client-key-data: $(base64 -w0 <"$pki/$user.key")
contexts:
- name: jack-cluster
  context:
    cluster: jack-cluster
    user: $user
current-context: jack-cluster
EOF
  chmod 600 "$file"
}

write_config() {
  mkdir -p "$etc/cni"
  cat >"$etc/cluster.env" <<EOF
BIN=$bin
RUN=$run
NODE_NAME=$NODE_NAME
NODE_IP=$NODE_IP
SERVICE_CIDR=$SERVICE_CIDR
CLUSTER_CIDR=$CLUSTER_CIDR
REGISTRY_ADDR=$REGISTRY_ADDR
EOF
  local inside=https://127.0.0.1:6443
  kubeconfig "$etc/admin.conf" "$inside" admin
  kubeconfig "$etc/controller-manager.conf" "$inside" controller-manager
  kubeconfig "$etc/scheduler.conf" "$inside" scheduler
  kubeconfig "$etc/kubelet.conf" "$inside" kubelet
  kubeconfig "$etc/kube-proxy.conf" "$inside" kube-proxy

  # The image registry (distribution), inside the node's network namespace
  # at $REGISTRY_ADDR, its storage under $state: the node pulls every image
  # from it, and the host reaches it through cluster-portfwd at the same
  # address (localhost:5001).
  cat >"$etc/registry.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $state/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
  # containerd reaches it over plain HTTP (hosts.toml under the CRI
  # plugin's config_path, which containerd 1.6 reads for every pull).
  mkdir -p "$etc/certs.d/$REGISTRY"
  cat >"$etc/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "http://$REGISTRY"

[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF

  # containerd: everything under $state and the namespace's private /run;
  # the settings this sandbox needs (no CAP_SYS_RESOURCE: restrict the OOM
  # score adjustments; our own pause image, from the registry; no TCP
  # streaming service).
  cat >"$etc/containerd.toml" <<EOF
version = 2
root = "$state/containerd"
state = "$run/containerd"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$run/containerd.sock"

[ttrpc]
  address = "$run/containerd.sock.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$state/containerd-opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    disable_tcp_service = true
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$etc/certs.d"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$bin/cni"
      conf_dir = "$etc/cni"
      max_conf_num = 1
EOF

  # One bridge for the node's pods, in the pod CIDR the controller manager
  # gives the node (the first /24 of the cluster CIDR).
  cat >"$etc/cni/10-jack.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "jack",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

  # No DNS server runs in the cluster: an empty resolv.conf makes lookups in
  # pods fail at once instead of timing out against the host's resolver,
  # which the private network cannot reach.
  echo "# the local cluster has no DNS" >"$etc/resolv.conf"

  cat >"$etc/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$run/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
# cgroup v1 (this host's), cgroupfs, under a root of our own that
# cluster.sh creates and removes.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
# No CAP_SYS_RESOURCE here: no negative OOM score for the kubelet.
oomScoreAdj: 0
failSwapOn: false
# The disk may look full to the kubelet; never evict or collect images
# because of it.
evictionHard:
  memory.available: 100Mi
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
imageGCHighThresholdPercent: 100
clusterDomain: cluster.local
resolvConf: $etc/resolv.conf
EOF

  cat >"$etc/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $etc/kube-proxy.conf
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $CLUSTER_CIDR
oomScoreAdj: 0
nodePortAddresses: [primary]
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Leave the kernel-wide conntrack settings alone: they are not the network
# namespace's to change.
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}
