#!/usr/bin/env bash
# The end-to-end journey (test/e2e) on the local cluster: starts it unless it
# runs already (and then stops it again at the end, leaving nothing behind),
# builds and loads the images from this tree, and runs the tests.
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

"$cluster" images
cd "$root"
go test -tags e2e -count=1 -timeout 30m -v "$@" ./test/e2e/
