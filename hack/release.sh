#!/usr/bin/env bash
# Publishes jack-operator to an OCI registry: the images (hack/images:
# jack-operator, jack-auth and jack-echo, multi-arch, reproducible, with an
# SBOM) and the Helm chart as an OCI artifact, REGISTRY/charts/jack-operator,
# whose values.yaml pins the images it was pushed with (image.registry, the
# tags and image.digest and sidecar.image.digest), its comments kept. A release
# also builds the kubectl plugin's files to upload (hack/images plugin):
# kubectl-jack_<os>_<arch>.tar.gz for linux and darwin on amd64 and arm64 and
# windows/amd64, reproducible, their SHA256SUMS, and jack.yaml, the krew
# manifest plugins/jack.yaml filled with the version, URLs and sha256s.
#
# usage: hack/release.sh push REGISTRY [VERSION]    (make push; VERSION defaults to dev)
#        hack/release.sh release REGISTRY VERSION   (make release: a clean tree, VERSION x.y.z;
#                                                   the images, the chart, then the plugin's files)
#        hack/release.sh chart REGISTRY VERSION     the chart only, for the images that
#                                                   hack/cluster/cluster.sh images VERSION pushed
#                                                   (it reads bin/images/VERSION.env)
#        hack/release.sh plugin [VERSION]           (make plugin-release) the plugin's files only,
#                                                   into bin/release/VERSION (or RELEASE_DIR);
#                                                   PLATFORMS=linux/amd64,... builds fewer, and
#                                                   PLUGIN_URL_BASE is where the manifest says the
#                                                   archives are (default the GitHub release
#                                                   v<VERSION>'s downloads)
#
# REGISTRY is a host and path, e.g. ghcr.io/jack-io or localhost:5001/jack.
# Registries on localhost or 127.0.0.1 are spoken to over plain HTTP, others
# over HTTPS unless INSECURE=1; credentials come from `docker login` (images)
# and `bin/helm registry login` (chart). A VERSION that is not x.y.z[-pre]
# (such as dev) tags the images, and the chart is a pre-release of Chart.yaml's
# version (0.1.0-dev) with VERSION as its appVersion.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
chart_dir=$root/charts/jack-operator

say() { echo "release: $*"; }
die() { echo "release: $*" >&2; exit 1; }

semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$'

plain_http() { # REGISTRY: whether to speak plain HTTP to it
  [ "${INSECURE:-}" = 1 ] || [[ $1 == localhost:* || $1 == localhost/* || $1 == 127.0.0.1:* || $1 == 127.0.0.1/* ]]
}

# push_images REGISTRY VERSION ENV_FILE: build and push the users' images and
# write their digests to ENV_FILE.
push_images() {
  local registry=$1 version=$2 env=$3 insecure=()
  [ "${INSECURE:-}" != 1 ] || insecure=(-insecure)
  say "building and pushing the images $version to $registry..."
  (cd "$root/hack/images" && go run . -root "$root" -version "$version" -push "$registry" "${insecure[@]}" \
    -env "$env" jack-operator jack-auth jack-echo) | sed 's/^/release: pushed /'
}

# push_chart REGISTRY VERSION ENV_FILE: package the chart with the images of
# ENV_FILE pinned in its values and push it to REGISTRY/charts.
push_chart() {
  local registry=$1 version=$2 env=$3 chart_version work
  # shellcheck source=/dev/null
  . "$env" # JACK_VERSION JACK_REGISTRY JACK_OPERATOR_DIGEST JACK_SIDECAR_DIGEST JACK_ECHO_DIGEST
  [ "$JACK_VERSION" = "$version" ] && [ "$JACK_REGISTRY" = "$registry" ] ||
    die "$env records version $JACK_VERSION in $JACK_REGISTRY, not $version in $registry"
  if [[ $version =~ $semver ]]; then
    chart_version=$version
  else
    # A build that is not a release (dev): a pre-release of Chart.yaml's
    # version, which never shadows a release (helm picks pre-releases only
    # when asked: --version or --devel).
    chart_version=$(awk '$1 == "version:" { gsub(/"/, "", $2); print $2; exit }' "$chart_dir/Chart.yaml")-$version
  fi
  "$root/hack/build-tools.sh" helm >/dev/null
  work=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  cp -r "$chart_dir" "$work/jack-operator"
  (cd "$root/hack/images" && go run . values "$work/jack-operator/values.yaml" \
    "image.registry=$registry" "image.tag=$version" "image.digest=$JACK_OPERATOR_DIGEST" \
    "sidecar.image.tag=$version" "sidecar.image.digest=$JACK_SIDECAR_DIGEST")
  "$bin/helm" package "$work/jack-operator" --version "$chart_version" --app-version "$version" -d "$work" >/dev/null
  local flags=()
  if plain_http "$registry"; then flags+=(--plain-http); fi
  say "pushing the chart $chart_version (appVersion $version) to oci://$registry/charts..."
  "$bin/helm" push "$work/jack-operator-$chart_version.tgz" "oci://$registry/charts" "${flags[@]}" 2>&1 | sed 's/^/release: /'
  chart_ref="oci://$registry/charts/jack-operator"
  published_chart_version=$chart_version
}

# plugin_release VERSION: kubectl-jack's archives, SHA256SUMS and krew
# manifest into bin/release/VERSION; hack/images plugin prints what to upload.
plugin_release() {
  local version=$1 out=${RELEASE_DIR:-$bin/release/$1} flags=()
  [ -z "${PLATFORMS:-}" ] || flags+=(-platforms "$PLATFORMS")
  [ -z "${PLUGIN_URL_BASE:-}" ] || flags+=(-url-base "$PLUGIN_URL_BASE")
  say "building the kubectl plugin's archives and krew manifest $version into $out..."
  (cd "$root/hack/images" && go run . plugin -root "$root" -version "$version" -out "$out" "${flags[@]}")
}

summary() { # REGISTRY VERSION ENV_FILE
  local registry=$1 version=$2
  # shellcheck source=/dev/null
  . "$3"
  local plain=""
  if plain_http "$registry"; then plain=" --plain-http"; fi
  cat <<MSG

Published:
  $registry/jack-operator:$version@$JACK_OPERATOR_DIGEST
  $registry/jack-auth:$version@$JACK_SIDECAR_DIGEST
  $registry/jack-echo:$version@$JACK_ECHO_DIGEST
  $chart_ref, chart version $published_chart_version (its values pin the two digests above)

Install it:
  helm install jack-operator $chart_ref --version $published_chart_version$plain -n jack-system --create-namespace
MSG
}

mode=${1:-}
if [ "$mode" = plugin ]; then
  [ $# -le 2 ] || die "usage: $0 plugin [VERSION]"
  plugin_release "${2:-dev}"
  exit 0
fi
registry=${2:-}
version=${3:-}
[ -n "$registry" ] || die "usage: $0 push|release|chart REGISTRY [VERSION] (or $0 plugin [VERSION]): give the registry, e.g. REGISTRY=localhost:5001/jack"
registry=${registry%/}
case $mode in
  push)
    version=${version:-dev}
    env=$(mktemp)
    push_images "$registry" "$version" "$env"
    push_chart "$registry" "$version" "$env"
    summary "$registry" "$version" "$env"
    rm -f "$env"
    ;;
  release)
    [[ $version =~ $semver ]] || die "VERSION=${version:-(none)} is not a release version: give x.y.z or x.y.z-pre (e.g. VERSION=0.2.0), which tags the images and versions the chart."
    if [ -n "$(git -C "$root" status --porcelain)" ]; then
      die "the tree has uncommitted changes (git status); a release is built from a commit, so that its images name the revision they hold: commit or stash them first."
    fi
    env=$(mktemp)
    push_images "$registry" "$version" "$env"
    push_chart "$registry" "$version" "$env"
    summary "$registry" "$version" "$env"
    rm -f "$env"
    echo
    plugin_release "$version"
    ;;
  chart)
    [ -n "$version" ] || die "usage: $0 chart REGISTRY VERSION"
    env=$bin/images/$version.env
    [ -f "$env" ] || die "no $env: push the images first (hack/cluster/cluster.sh images $version)"
    push_chart "$registry" "$version" "$env"
    ;;
  *) die "usage: $0 push|release|chart REGISTRY [VERSION], or $0 plugin [VERSION]" ;;
esac
