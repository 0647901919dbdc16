#!/usr/bin/env bash
# A real single-node Kubernetes 1.37 on this machine, built from source: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy, with Debian's containerd and runc and the CNI bridge plugin. The
# whole node runs inside private PID, mount and network namespaces, so its
# processes, mounts, interfaces and firewall rules never touch the host's; its
# files live under bin/cluster and its cgroups under /<cgroup>/jack-cluster.
# The API server is reachable from the host at https://127.0.0.1:16443 through
# a small forwarder, with the kubeconfig bin/cluster/kubeconfig. An image
# registry (distribution, built from source) runs on the node's network too:
# containerd pulls every image from it, the pod sandbox's included, as
# localhost:5001/jack/<name>, and the host reaches it at the same address
# through the same forwarder (bin/crane ls localhost:5001/jack/jack-auth).
#
# usage: hack/cluster/cluster.sh up       build what is missing, start the cluster, wait for the node
#        hack/cluster/cluster.sh down     stop it, remove its files, check that nothing is left
#        hack/cluster/cluster.sh images [VERSION]
#                                         build every image (hack/images) as VERSION (default dev),
#                                         push them to localhost:5001/jack and write the digests
#                                         to bin/images/VERSION.env
#        hack/cluster/cluster.sh status   say whether it runs
#        hack/cluster/cluster.sh exec CMD run CMD on the node (in its network namespace), e.g. curl
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/bin
state=$bin/cluster
images=$bin/images
run=/run/jack-cluster # inside the node's mount namespace: a private tmpfs
pki=$state/pki
etc=$state/etc
logs=$state/logs
kubeconfig_file=$state/kubeconfig

NODE_NAME=jack-node
NODE_IP=10.200.0.1
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
CLUSTER_CIDR=10.244.0.0/16
POD_CIDR=10.244.0.0/24
POD_GATEWAY=10.244.0.1
CGROUP_ROOT=jack-cluster
API_PORT=${CLUSTER_API_PORT:-16443}
# The registry: the name containerd and the host use, the address it listens
# on inside the node's network, and where this tree's images go in it.
REGISTRY=localhost:5001
REGISTRY_ADDR=127.0.0.1:5001
IMAGE_REPO=$REGISTRY/jack
PAUSE_IMAGE=$IMAGE_REPO/jack-pause:dev

# shellcheck source=hack/cluster/config.sh
. "$root/hack/cluster/config.sh"

say() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig_file" "$@"; }
since() { echo "$(( $(date +%s%N) / 1000000 - $1 ))" | awk '{printf "%.1fs", $1/1000}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

node_pid() { cat "$state/node.pid" 2>/dev/null || true; }
running() { local p; p=$(node_pid); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# cgroup_dirs: this cluster's cgroup root in every hierarchy mounted here.
cgroup_dirs() {
  awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts | while read -r m; do
    echo "$m/$CGROUP_ROOT"
  done
}

preflight() {
  [ "$(id -u)" = 0 ] || die "the local cluster must run as root: it creates namespaces, mounts, cgroups and
  network interfaces (all private to it, removed by 'make cluster-down'). Try: sudo make cluster-up"
  local err
  if ! err=$(unshare --pid --net --mount --fork --mount-proc true 2>&1); then
    die "cannot create PID, network and mount namespaces here ($err).
  The local cluster needs a machine (or VM) where root may call unshare(2);
  an unprivileged container cannot."
  fi
  [ -d /sys/fs/cgroup/cpuset ] && [ -d /sys/fs/cgroup/memory ] || die "this host has no cgroup v1
  cpuset and memory hierarchies under /sys/fs/cgroup; the local cluster is set up for cgroup v1
  (kubelet failCgroupV1: false), the only cgroups of the machines it was made on."
}

# packages installs the Debian packages the node needs, if missing, without
# starting their services (the node runs its own containerd).
packages() {
  local missing=() cmd pkg
  for pair in containerd:containerd ctr:containerd runc:runc iptables:iptables conntrack:conntrack \
    ip:iproute2 curl:curl openssl:openssl nsenter:util-linux; do
    cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  say "installing Debian packages: ${missing[*]} (apt-get; their services are not started)"
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  local ok=
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$bin/cluster-apt.log" 2>&1 && ok=1
  if [ -z "$ok" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update >>"$bin/cluster-apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$bin/cluster-apt.log" 2>&1 && ok=1
  fi
  [ -z "$made_policy" ] || rm -f "$policy"
  [ -n "$ok" ] || die "could not install ${missing[*]}; see $bin/cluster-apt.log, or install them yourself: apt-get install ${missing[*]}"
}

build() {
  mkdir -p "$bin"
  "$root/hack/build-tools.sh" cluster
  (cd "$root" && go build -o "$bin/cluster-portfwd" ./hack/cluster/portfwd)
}

# build_images runs hack/images (a module of its own) on this tree.
build_images() {
  (cd "$root/hack/images" && go run . -root "$root" "$@")
}

up() {
  preflight
  if running; then
    say "already running (node pid $(node_pid)); KUBECONFIG=$kubeconfig_file"
    return 0
  fi
  [ ! -e "$state" ] || { say "removing what a previous cluster left"; down quiet; }
  packages
  build

  local t0 t_api
  t0=$(now_ms)
  mkdir -p "$logs"
  write_pki
  write_config
  for d in $(cgroup_dirs); do
    mkdir -p "$d"
  done
  # A new cpuset is empty: give the root this machine's CPUs and memory nodes,
  # and its children a copy.
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.mems"
  echo 1 >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cgroup.clone_children"
  # node.sh mounts the node's own folders over these; a mount needs a mount
  # point. Those made here are removed again by down.
  for d in /var/lib/kubelet /var/lib/cni; do
    [ -d "$d" ] || { mkdir -p "$d" && echo "$d" >>"$bin/cluster-mountpoints"; }
  done

  say "starting the node in private namespaces (logs: $logs)..."
  # setsid: the node outlives this script and its terminal.
  setsid unshare --pid --net --mount --fork --mount-proc --propagation private \
    "$root/hack/cluster/node.sh" "$state" >"$logs/node.log" 2>&1 </dev/null &
  local unshare_pid=$! pid=
  echo "$unshare_pid" >"$state/unshare.pid"
  for _ in $(seq 1 50); do
    pid=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{print $1}')
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || die "the node did not start; see $logs/node.log"
  echo "$pid" >"$state/node.pid"

  "$bin/cluster-portfwd" -pid "$pid" -forward "127.0.0.1:$API_PORT=127.0.0.1:6443" \
    -forward "127.0.0.1:${REGISTRY#*:}=$REGISTRY_ADDR" >"$logs/portfwd.log" 2>&1 </dev/null &
  echo $! >"$state/portfwd.pid"
  kubeconfig "$kubeconfig_file" "https://127.0.0.1:$API_PORT" admin

  for _ in $(seq 1 900); do
    [ "$(cat "$state/node.status" 2>/dev/null)" = started ] && break
    if ! running || [ "$(cat "$state/node.status" 2>/dev/null)" = failed ]; then
      echo "cluster: the node failed to start; its log ends with:" >&2
      tail -15 "$logs/node.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  t_api=$(since "$t0")
  if ! kill -0 "$(cat "$state/portfwd.pid")" 2>/dev/null; then
    echo "cluster: the forwarder to 127.0.0.1:$API_PORT and $REGISTRY stopped (is a port taken? CLUSTER_API_PORT picks another API port; $REGISTRY is fixed):" >&2
    tail -5 "$logs/portfwd.log" >&2
    exit 1
  fi
  say "control plane up after $t_api; pushing the pod sandbox image to the registry..."
  # Before the first pod: containerd pulls it from the registry to start any.
  # For this machine's platform only; 'images' pushes both.
  build_images -version dev -platforms "linux/$(go env GOARCH)" -out "$images/sandbox" -push "$IMAGE_REPO" jack-pause |
    sed 's/^/cluster: pushed /'
  say "waiting for the node to be Ready..."
  # kubectl wait fails at once on a node not registered yet.
  for _ in $(seq 1 300); do
    kubectl get "node/$NODE_NAME" >/dev/null 2>&1 && break
    sleep 0.2
  done
  if ! kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=180s >/dev/null 2>&1; then
    echo "cluster: the node did not become Ready within 180s; kubelet's log ends with:" >&2
    tail -15 "$logs/kubelet.log" >&2
    exit 1
  fi
  # The default ServiceAccount, which every pod needs, is the controller
  # manager's first work.
  for _ in $(seq 1 100); do
    kubectl get serviceaccount default >/dev/null 2>&1 && break
    sleep 0.2
  done
  say "node $NODE_NAME Ready after $(since "$t0") (control plane $t_api)"
  cat <<MSG

  export KUBECONFIG=$kubeconfig_file
  bin/kubectl get nodes -o wide
  hack/cluster/cluster.sh images                                    # build and push this tree's images
  bin/crane ls $IMAGE_REPO/jack-pause                         # the registry, from the host
  hack/cluster/cluster.sh exec curl -s http://<pod or Service IP>   # from the node's network
  make cluster-down                                                 # stop it and remove everything
MSG
}

# push_images VERSION builds every image as VERSION, pushes it to the
# cluster's registry and writes bin/images/VERSION.env, which hack/demo.sh,
# hack/e2e.sh and test/e2e read.
push_images() {
  local version=${1:-dev} start
  running || die "the registry runs inside the cluster, which is not running: start it with 'make cluster-up'"
  start=$(date +%s)
  say "building the images as $version (linux/amd64, linux/arm64) and pushing them to $IMAGE_REPO..."
  build_images -version "$version" -push "$IMAGE_REPO" -env "$images/$version.env" | sed 's/^/cluster: /'
  say "images pushed in $(($(date +%s) - start))s; their digests are in $images/$version.env"
}

# stop_pid PIDFILE WHAT SECONDS: TERM, then KILL after SECONDS.
stop_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $(($3 * 5))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$2 (pid $pid) did not stop within $3s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$1"
}

down() {
  local quiet=${1:-}
  [ "$(id -u)" = 0 ] || die "must run as root, like 'up'"
  if [ ! -e "$state" ]; then
    [ -n "$quiet" ] || say "not running"
  else
    # Killing the namespace's PID 1 makes the kernel kill every process in it,
    # containers included; its mounts, interfaces and firewall rules go with
    # the namespaces.
    [ -n "$quiet" ] || say "stopping the node..."
    stop_pid "$state/node.pid" "the node" 30
    stop_pid "$state/unshare.pid" "unshare" 5
    stop_pid "$state/portfwd.pid" "the port forwarder" 5
  fi
  # Empty cgroups stay behind until removed, deepest first; their last
  # processes may take a moment to exit.
  local left=
  for _ in $(seq 1 50); do
    left=
    for d in $(cgroup_dirs); do
      [ -d "$d" ] || continue
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [ ! -d "$d" ] || left+=" $d"
    done
    [ -z "$left" ] && break
    sleep 0.2
  done
  if [ -f "$bin/cluster-mountpoints" ]; then
    while read -r d; do rmdir "$d" 2>/dev/null || true; done <"$bin/cluster-mountpoints"
    rm -f "$bin/cluster-mountpoints"
  fi
  if [ -e "$state" ]; then
    # --one-file-system: never follow a mount into the host's files, should
    # one have survived.
    rm -rf --one-file-system "$state"
  fi
  check "$left"
}

# check says what of the cluster is left on the host, if anything.
check() {
  local problems=() p
  [ -z "$1" ] || problems+=("cgroups:$1")
  # Every process of the node names a file under $state or $run; the
  # containers' processes would keep their cgroups from being removed.
  # The registry's command line names its configuration under $state.
  p=$(ps -eo pid=,args= | grep -E "$state|$run|$bin/cluster-portfwd|$bin/registry" | grep -v grep || true)
  [ -z "$p" ] || problems+=("processes: $p")
  p=$(grep -E "$state|$run" /proc/self/mountinfo || true)
  [ -z "$p" ] || problems+=("mounts: $p")
  if command -v iptables-save >/dev/null; then
    p=$(iptables-save 2>/dev/null | grep -cE 'KUBE-|CNI-' || true)
    [ "$p" = 0 ] || problems+=("$p iptables rules and chains of Kubernetes or CNI on the host")
  fi
  p=$(ip -o link show 2>/dev/null | grep -E ': (cni0|jack0|veth)' || true)
  [ -z "$p" ] || problems+=("network interfaces: $p")
  if [ ${#problems[@]} -gt 0 ]; then
    printf 'cluster: left behind: %s\n' "${problems[@]}" >&2
    exit 1
  fi
  say "stopped; no process (the registry's included), mount, cgroup, interface or iptables rule of the cluster is left"
}

status() {
  if running; then
    say "running (node pid $(node_pid)); KUBECONFIG=$kubeconfig_file"
    kubectl get nodes -o wide
  else
    say "not running"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  images) push_images "${2:-}" ;;
  status) status ;;
  exec)
    shift
    running || die "the cluster is not running ('make cluster-up')"
    exec nsenter -t "$(node_pid)" -m -n "$@"
    ;;
  *)
    sed -n '/^# usage/,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
