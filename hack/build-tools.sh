#!/usr/bin/env bash
# Builds the binaries the tests and the demo need from Go sources, through the
# Go module proxy, into bin/. Nothing is downloaded from release pages.
#
# Each tool lives in its own nested module under hack/tools/<module>/, so its
# dependency pins never touch the project's go.mod. A binary is rebuilt only
# when its module's go.mod or go.sum changed since it was built (a stamp file
# next to the binary records their hash).
#
# usage: hack/build-tools.sh [tool...]     (default: every tool the tests need)
#        hack/build-tools.sh cluster      (every binary of the local cluster)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN_DIR:-$root/bin}
mkdir -p "$bin"

# tool name -> "module-dir|package|ldflags"
declare -A tools
kube_version=v1.37.2
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=37 -X $pkg.gitVersion=$kube_version -X $pkg.gitTreeState=clean"
done
tools[kube-apiserver]="kube|k8s.io/kubernetes/cmd/kube-apiserver|$kube_ldflags"
tools[kubectl]="kube|k8s.io/kubernetes/cmd/kubectl|$kube_ldflags"
# The node and the rest of the control plane, for the local cluster only
# (hack/cluster); make test never builds them.
for name in kubelet kube-controller-manager kube-scheduler kube-proxy; do
  tools[$name]="kube|k8s.io/kubernetes/cmd/$name|$kube_ldflags"
done
tools[etcd]="etcd|go.etcd.io/etcd/server/v3|"
# CNI plugins for the local cluster's pod network, in bin/cni/ under the names
# the CNI configuration refers to them by.
for name in main/bridge main/loopback ipam/host-local meta/portmap; do
  tools[cni/${name#*/}]="cni|github.com/containernetworking/plugins/plugins/$name|"
done
# The local cluster's image registry (distribution's reference server; it
# reports the module's version by itself), and crane, to push, pull and inspect
# images in it from the host.
tools[registry]="registry|github.com/distribution/distribution/v3/cmd/registry|"
tools[crane]="crane|github.com/google/go-containerregistry/cmd/crane|-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=v0.22.1"
tools[controller-gen]="controller-gen|sigs.k8s.io/controller-tools/cmd/controller-gen|"
# helm: the version and the Kubernetes version it assumes when rendering
# offline (.Capabilities.KubeVersion, lint's deprecation checks), as helm's
# own Makefile stamps them; 1.37 is the version of its client-go pin.
helm_version=v3.22.0
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=37"
done
tools[helm]="helm|helm.sh/helm/v3/cmd/helm|$helm_ldflags"
# traefik: the gateway of test/gateways (make test-gateways only; not a default
# tool, its first build takes about 6 minutes). v3.7 does not build through the
# module proxy (some of its dependencies' versions are refused), so v3.6.
traefik_version=v3.6.12
tools[traefik]="traefik|github.com/traefik/traefik/v3/cmd/traefik|-X github.com/traefik/traefik/v3/pkg/version.Version=$traefik_version"

# krew, the kubectl plugin manager, and the check a krew index runs on a
# plugin's manifest: test/krew installs the plugin's release archives with them
# (make test). Left unstamped on purpose: a build without a version never
# checks GitHub for a newer krew.
tools[kubectl-krew]="krew|sigs.k8s.io/krew/cmd/krew|"
tools[validate-krew-manifest]="krew|sigs.k8s.io/krew/cmd/validate-krew-manifest|"

# registry: hack/images' tests push to a real one (make test).
default_tools=(controller-gen etcd kube-apiserver kubectl helm registry kubectl-krew validate-krew-manifest)
cluster_tools=(etcd kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy
  cni/bridge cni/loopback cni/host-local cni/portmap registry crane)
[ $# -gt 0 ] || set -- "${default_tools[@]}"
[ "$*" != cluster ] || set -- "${cluster_tools[@]}"

stamp_of() {
  cat "$root/hack/tools/$1/go.mod" "$root/hack/tools/$1/go.sum" | sha256sum | cut -c1-16
}

for name in "$@"; do
  spec=${tools[$name]:-}
  if [ -z "$spec" ]; then
    echo "build-tools: unknown tool '$name' (known: ${!tools[*]})" >&2
    exit 2
  fi
  IFS='|' read -r mod pkg ldflags <<<"$spec"
  want=$(stamp_of "$mod")
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.stamp" 2>/dev/null)" = "$want" ]; then
    echo "build-tools: $name is up to date ($bin/$name)"
    continue
  fi
  # First builds on 2 cores, measured: kube-apiserver 6-9 min, kubelet 5-9 min,
  # the other Kubernetes binaries 1-4 min each; the rest under 2 min (krew
  # 17 s, or 60 s with nothing at all in the build cache).
  case $name in
    kube-apiserver | kubelet) hint=" (the first build takes 5-9 minutes on 2 cores)" ;;
    kube-* | kubectl) hint=" (the first build takes 1-4 minutes on 2 cores)" ;;
    traefik) hint=" (the first build takes about 6 minutes on 2 cores)" ;;
    *) hint="" ;;
  esac
  echo "build-tools: building $name from $pkg$hint..."
  start=$(date +%s)
  mkdir -p "$(dirname "$bin/$name")" "$(dirname "$bin/.$name.stamp")"
  (cd "$root/hack/tools/$mod" && go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "$want" >"$bin/.$name.stamp"
  echo "build-tools: built $name in $(( $(date +%s) - start ))s"
done
