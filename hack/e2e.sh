#!/usr/bin/env bash
# The end-to-end journey (test/e2e) on the local cluster: starts it unless it
# runs already (and then stops it again at the end, leaving nothing behind),
# builds this tree's images and pushes them to the cluster's registry twice,
# as dev and as dev-upgrade (the same tree with another version, so other
# digests: the build the journey upgrades to), pushes the chart of each there
# too (0.1.0-dev and 0.1.0-dev-upgrade, their values pinning the digests), and
# runs the tests. The journey installs and upgrades from those charts, and
# jack-echo by digest, as bin/images/<version>.env records them.
#
# usage: hack/e2e.sh [go test flags...]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cluster=$root/hack/cluster/cluster.sh

started=0
if ! "$cluster" status >/dev/null 2>&1; then
  "$cluster" up
  started=1
fi
stop() {
  if [ "$started" = 1 ]; then
    "$cluster" down
  fi
}
trap stop EXIT

"$cluster" images dev
"$cluster" images dev-upgrade
"$root/hack/release.sh" chart localhost:5001/jack dev
"$root/hack/release.sh" chart localhost:5001/jack dev-upgrade
cd "$root"
# The kubectl plugin the journey runs (inject explain, doctor).
go build -o bin/kubectl-jack ./cmd/kubectl-jack
go test -tags e2e -count=1 -timeout 30m -v "$@" ./test/e2e/
