#!/usr/bin/env bash
# The local cluster's node, run by hack/cluster/cluster.sh as PID 1 of private
# PID, mount and network namespaces (unshare). It makes the namespaces look
# like a machine of their own, starts etcd, containerd, the control plane,
# kubelet and kube-proxy, and keeps them running until it gets SIGTERM. When
# it exits, the kernel kills every process left in the namespace, containers
# included, and the namespaces' mounts, interfaces and firewall rules go with
# them.
#
# usage (from cluster.sh only): node.sh STATE_DIR
set -euo pipefail

state=$1
# shellcheck source=/dev/null
. "$state/etc/cluster.env" # BIN RUN NODE_NAME NODE_IP SERVICE_CIDR CLUSTER_CIDR REGISTRY_ADDR
logs=$state/logs
pki=$state/pki
etc=$state/etc

say() { echo "node: $(date +%T) $*"; }
fail() { echo "node: $*" >&2; exit 1; }

# --- the filesystem: private copies of what the node writes outside $state.
# unshare made every mount private, so nothing below reaches the host.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p "$RUN" /run/netns
for d in var-log:/var/log var-lib-kubelet:/var/lib/kubelet var-lib-cni:/var/lib/cni; do
  mkdir -p "$state/${d%%:*}"
  mount --bind "$state/${d%%:*}" "${d#*:}"
done
# The kubelet wants its root shared, for mount propagation into containers;
# shared here means shared among this namespace's own mounts.
mount --make-rshared /var/lib/kubelet

# The kubelet sets a few kernel-wide sysctls (vm.overcommit_memory,
# kernel.panic, kernel.panic_on_oops, ...) when they differ from what it
# wants, and fails when it cannot. They are not namespaced: writing them would
# change the host. Show it files that already hold its values instead.
mkdir -p "$state/sysctl"
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
  kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  key=${kv%%=*} want=${kv#*=}
  if [ "$(cat "/proc/sys/$key")" != "$want" ]; then
    echo "$want" >"$state/sysctl/${key//\//.}"
    mount --bind -o ro "$state/sysctl/${key//\//.}" "/proc/sys/$key"
  fi
done

# --- the network: loopback, and the node's address on one end of a veth pair
# (this kernel has no dummy interfaces), which also carries the default route
# that traffic to Service IPs needs before kube-proxy's rules rewrite it.
ip link set lo up
ip link add jack0 type veth peer name jack0-peer
ip link set jack0 up
ip link set jack0-peer up
ip addr add "$NODE_IP/24" dev jack0
ip route add default dev jack0
echo 1 >/proc/sys/net/ipv4/ip_forward
echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables

# --- the processes. Each logs to $logs/<name>.log.
pids=()
start() { # name command...
  local name=$1
  shift
  "$@" >>"$logs/$name.log" 2>&1 &
  pids+=("$!")
  eval "pid_${name//-/_}=$!"
}
wait_for() { # what timeout-seconds command...
  local what=$1 timeout=$2
  shift 2
  for _ in $(seq 1 $((timeout * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "$what did not come up within ${timeout}s; see $logs"
}

stopping=
stop() {
  [ -z "$stopping" ] || return 0
  stopping=1
  say "stopping"
  # The node first, so that it does not restart what goes away under it; the
  # kernel kills the rest (containers included) when this script exits.
  for name in kube_proxy kubelet kube_scheduler kube_controller_manager kube_apiserver containerd registry etcd; do
    local pid_var="pid_$name"
    [ -n "${!pid_var:-}" ] && kill -TERM "${!pid_var}" 2>/dev/null || true
  done
  # Short: the cluster's data is thrown away after this.
  for _ in $(seq 1 15); do
    local alive=
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.2
  done
  exit 0
}
trap stop TERM INT

say "starting etcd"
start etcd "$BIN/etcd" --name default --data-dir "$state/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster default=http://127.0.0.1:2380 --unsafe-no-fsync
say "starting containerd and the image registry"
start containerd containerd --config "$etc/containerd.toml"
# OTEL_TRACES_EXPORTER=none: the registry would otherwise send traces to an
# OpenTelemetry collector that is not there, and log each failure.
start registry env OTEL_TRACES_EXPORTER=none "$BIN/registry" serve "$etc/registry.yml"
wait_for etcd 30 curl -sf http://127.0.0.1:2379/health
wait_for containerd 30 ctr --address "$RUN/containerd.sock" version
wait_for registry 30 curl -sf "http://$REGISTRY_ADDR/v2/"

say "starting kube-apiserver"
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 \
  --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port=6443 \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --enable-aggregator-routing=true --allow-privileged=true \
  --profiling=false

wait_for kube-apiserver 120 curl -sf --cacert "$pki/ca.crt" https://127.0.0.1:6443/readyz
say "kube-apiserver is ready"

start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$etc/controller-manager.conf" \
  --authentication-kubeconfig="$etc/controller-manager.conf" --authorization-kubeconfig="$etc/controller-manager.conf" \
  --bind-address=127.0.0.1 --leader-elect=false \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
  --use-service-account-credentials=true \
  --allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" --node-cidr-mask-size=24 \
  --service-cluster-ip-range="$SERVICE_CIDR"
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$etc/scheduler.conf" \
  --authentication-kubeconfig="$etc/scheduler.conf" --authorization-kubeconfig="$etc/scheduler.conf" \
  --bind-address=127.0.0.1 --leader-elect=false
start kubelet "$BIN/kubelet" --config="$etc/kubelet.yaml" --kubeconfig="$etc/kubelet.conf" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
start kube-proxy "$BIN/kube-proxy" --config="$etc/kube-proxy.yaml"
say "the node is started"
: >"$RUN/started"
echo started >"$state/node.status"

# Wait for a signal or for any process to die: a dead component is a broken
# cluster, better stopped loudly than half-running.
while :; do
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      wait "$p" && rc=0 || rc=$?
      for name in etcd containerd registry kube_apiserver kube_controller_manager kube_scheduler kubelet kube_proxy; do
        v="pid_$name"
        [ "${!v:-}" = "$p" ] && say "${name//_/-} exited with status $rc; stopping the node (see $logs/${name//_/-}.log)"
      done
      echo "failed" >"$state/node.status"
      stop
    fi
  done
  sleep 1 &
  wait $! || true
done
