#!/usr/bin/env bash
# Copies the CRDs of the gateways config/samples/gateways configures into
# bin/gateway-crds/<project>/, from each project's own Go module through the
# Go module proxy (`go mod download -json MODULE@VERSION`, then the files
# inside its .Dir). Nothing is downloaded from release pages.
# test/gatewaymanifests installs them into a real kube-apiserver and applies
# the samples against them.
#
# A project's folder is kept while its .source names the same module
# version; delete bin/gateway-crds (or change a version here) to copy again.
#
# usage: hack/gateway-crds.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${GATEWAY_CRDS_DIR:-$root/bin/gateway-crds}

# project | module@version | files inside the module (globs, space-separated)
#
# - traefik: the CRD definition file Traefik's docs publish (traefik.io/v1alpha1).
# - gateway-api: the experimental channel, whose HTTPRoute has the
#   ExternalAuth filter (v1.7.0 needs a newer Go than this project's).
# - envoy-gateway: the plain CRDs its Helm chart installs (the copies under
#   charts/gateway-crds-helm/templates are Helm templates).
# - istio: istio.io/api is where Istio's CRDs and MeshConfig are defined;
#   istio.io/istio has no release on the module proxy, only old
#   pseudo-versions. config.proto is MeshConfig's schema, for the mesh
#   config half of istio.yaml, which is not an object the API server sees.
# - ingress-nginx: no CRDs; its annotations reference, to check the
#   annotation names of ingress-nginx.yaml. No release of the module is
#   tagged in a form the module proxy serves: this is its newest pseudo-version.
specs=(
  "traefik|github.com/traefik/traefik/v3@v3.6.12|docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
  "gateway-api|sigs.k8s.io/gateway-api@v1.6.3|config/crd/experimental/gateway.networking.k8s.io_*.yaml config/crd/experimental/gateway.networking.x-k8s.io_*.yaml"
  "envoy-gateway|github.com/envoyproxy/gateway@v1.9.1|charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_*.yaml"
  "istio|istio.io/api@v1.32.0|kubernetes/customresourcedefinitions.gen.yaml mesh/v1alpha1/config.proto"
  "ingress-nginx|k8s.io/ingress-nginx@v0.0.0-20240708192948-52c50467d67d|docs/user-guide/nginx-configuration/annotations.md"
)

# A folder outside any module, so `go mod download` touches neither this
# project's go.mod nor its go.sum.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$out"
for spec in "${specs[@]}"; do
  IFS='|' read -r project modver files <<<"$spec"
  dest=$out/$project
  if [ "$(cat "$dest/.source" 2>/dev/null)" = "$modver" ]; then
    echo "gateway-crds: $project is up to date ($modver)"
    continue
  fi
  start=$(date +%s)
  json=$(cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "$modver") || {
    echo "gateway-crds: go mod download $modver failed:" >&2
    echo "$json" >&2
    exit 1
  }
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "gateway-crds: go mod download $modver named no module folder:" >&2
    echo "$json" >&2
    exit 1
  fi

  tmp=$out/.$project.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  for pattern in $files; do
    matched=0
    for f in "$dir"/$pattern; do
      [ -f "$f" ] || continue
      # The ValidatingAdmissionPolicy beside Gateway API's CRDs guards
      # upgrades of a real cluster; it is no CRD.
      case $f in *_vap_*) continue ;; esac
      cp "$f" "$tmp/"
      matched=1
    done
    if [ "$matched" = 0 ]; then
      echo "gateway-crds: $modver has no $pattern (did the project move its CRDs?)" >&2
      exit 1
    fi
  done
  chmod -R u+w "$tmp" # the module cache is read-only
  echo "$modver" >"$tmp/.source"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  echo "gateway-crds: copied $(find "$dest" -type f ! -name .source | wc -l) file(s) of $modver into $dest in $(($(date +%s) - start))s"
done
