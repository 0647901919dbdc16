#!/usr/bin/env bash
# The local demo: a real single-node Kubernetes built from source
# (hack/cluster), the operator installed with its Helm chart, a namespace
# opted in to injection with a SigningKey and three JackUsers, and jack-echo
# (a stand-in for Jack) with two replicas behind the injected jack-auth
# sidecar, reachable from this machine at http://127.0.0.1:$DEMO_PORT. Every
# image comes from the cluster's registry (localhost:5001/jack, reachable from
# this machine too), the operator's and the sidecar's pinned by digest; the
# chart is pushed there as well (oci://localhost:5001/jack/charts).
#
# usage: hack/demo.sh up|down
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
kubeconfig=$bin/cluster/kubeconfig
demo_ns=jack-demo
operator_ns=jack-system
port=${DEMO_PORT:-18081}
portfwd_pid=$bin/demo-portfwd.pid
registry=localhost:5001/jack
images_env=$bin/images/dev.env
# The chart hack/release.sh pushes for the dev images: a pre-release of Chart.yaml's version.
chart_version=$(awk '$1 == "version:" { gsub(/"/, "", $2); print $2; exit }' "$root/charts/jack-operator/Chart.yaml")-dev

say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
helm() { "$bin/helm" --kubeconfig "$kubeconfig" "$@"; }
step() { # what, then the command
  local what=$1 start
  shift
  start=$(date +%s)
  say "$what..."
  "$@"
  say "$what: done in $(($(date +%s) - start))s"
}

# The images hack/cluster/cluster.sh images pushed: JACK_VERSION,
# JACK_REGISTRY and the digests.
load_images_env() {
  # shellcheck source=/dev/null
  . "$images_env" || die "no $images_env: the images were not pushed"
}

install_operator() {
  load_images_env
  helm upgrade --install jack-operator "$root/charts/jack-operator" -n "$operator_ns" --create-namespace \
    --set image.registry="$JACK_REGISTRY" --set image.tag="$JACK_VERSION" \
    --set image.digest="$JACK_OPERATOR_DIGEST" --set image.pullPolicy=IfNotPresent \
    --set sidecar.image.tag="$JACK_VERSION" --set sidecar.image.digest="$JACK_SIDECAR_DIGEST" \
    --set sidecar.imagePullPolicy=IfNotPresent \
    --wait --timeout 5m >/dev/null
}

apply_samples() {
  kubectl create namespace "$demo_ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl label namespace "$demo_ns" auth.jack.io/injection=enabled --overwrite >/dev/null
  kubectl apply -n "$demo_ns" -k "$root/config/samples" >/dev/null
  kubectl wait -n "$demo_ns" --for=condition=Ready signingkey/jack --timeout=2m >/dev/null
  kubectl wait -n "$demo_ns" --for=condition=Ready jackuser --all --timeout=2m >/dev/null
}

start_app() {
  load_images_env
  # The image by tag and digest, as pushed.
  sed "s#image: localhost:5001/jack/jack-echo:dev\$#image: $JACK_REGISTRY/jack-echo:$JACK_VERSION@$JACK_ECHO_DIGEST#" \
    "$root/hack/jack-echo/deployment.yaml" | kubectl apply -n "$demo_ns" -f - >/dev/null
  kubectl rollout status -n "$demo_ns" deployment/jack-echo --timeout=3m >/dev/null
}

# build_plugin builds the kubectl plugin the demo's lines use, stamped as
# the images are.
build_plugin() {
  (cd "$root" && go build -ldflags "-X github.com/jack-io/jack-operator/internal/version.Version=dev" -o "$bin/kubectl-jack" ./cmd/kubectl-jack)
}

# expose forwards 127.0.0.1:$port on this machine to jack-echo's Service in
# the cluster's private network.
expose() {
  stop_portfwd
  local ip
  ip=$(kubectl get service -n "$demo_ns" jack-echo -o jsonpath='{.spec.clusterIP}')
  setsid "$bin/cluster-portfwd" -pid "$(cat "$bin/cluster/node.pid")" -forward "127.0.0.1:$port=$ip:80" \
    >"$bin/demo-portfwd.log" 2>&1 </dev/null &
  echo $! >"$portfwd_pid"
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/tasks" && return 0
    sleep 0.2
  done
  die "jack-echo does not answer at 127.0.0.1:$port; see $bin/demo-portfwd.log"
}

stop_portfwd() {
  if [ -f "$portfwd_pid" ]; then
    kill "$(cat "$portfwd_pid")" 2>/dev/null || true
    rm -f "$portfwd_pid"
  fi
}

up() {
  local start
  start=$(date +%s)
  step "starting the cluster (the first run builds the node's binaries from source, 15-20 min)" "$root/hack/cluster/cluster.sh" up
  step "building the images (operator, sidecar, jack-echo, pause) and pushing them to the cluster's registry" "$root/hack/cluster/cluster.sh" images dev
  step "pushing the chart to the cluster's registry" "$root/hack/release.sh" chart "$registry" dev
  step "building kubectl jack (bin/kubectl-jack)" build_plugin
  step "installing the operator with its Helm chart" install_operator
  step "applying a SigningKey and three JackUsers in namespace $demo_ns" apply_samples
  step "starting jack-echo with the injected sidecar" start_app
  expose
  say "ready in $(($(date +%s) - start))s"
  cat <<TRY

Jack's API (here jack-echo) is at http://127.0.0.1:$port, behind the jack-auth sidecar.

  export KUBECONFIG=$kubeconfig PATH=$bin:\$PATH   # kubectl, and kubectl jack (the plugin), from bin/
  kubectl get jack -n $demo_ns                     # the SigningKey and three JackUsers, Ready
  kubectl jack doctor -n $demo_ns                  # the operator, its webhook, the CRDs, the keys, the sidecars: all OK
  kubectl jack inject explain deployment/jack-echo -n $demo_ns   # why its pods get the sidecar, in the operator's own words
  kubectl get pod -n $demo_ns -l app.kubernetes.io/name=jack-echo -o jsonpath='{.items[0].spec.initContainers[0].image}'; echo  # pinned by digest

  # the cluster's registry, from this machine: the images and the chart
  crane ls $registry/jack-auth
  crane manifest $registry/jack-auth:dev                               # an index: linux/amd64 and linux/arm64
  helm pull oci://$registry/charts/jack-operator --version $chart_version --plain-http   # the chart, with the digests pinned

  # log in (ada is an admin; max a manager, sam staff: max-demo-password-1, sam-demo-password-1)
  TOKEN=\$(curl -s -X POST http://127.0.0.1:$port/api/v1/auth/login -H 'Content-Type: application/json' \\
      -d '{"email":"ada@example.com","password":"ada-demo-password-1"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
  curl -s http://127.0.0.1:$port/api/v1/settings -H "Authorization: Bearer \$TOKEN"   # the app sees X-Jack-User-*
  curl -s http://127.0.0.1:$port/api/v1/settings                                     # TOKEN_MISSING

  kubectl patch jackuser ada -n $demo_ns --type=merge -p '{"spec":{"role":"staff"}}'   # within a second:
  curl -s http://127.0.0.1:$port/api/v1/settings -H "Authorization: Bearer \$TOKEN"   # FORBIDDEN
  curl -s -X POST http://127.0.0.1:$port/api/v1/auth/logout -H "Authorization: Bearer \$TOKEN"
  kubectl get tokenrevocations -n $demo_ns          # the logout, shared by both replicas

  # a new user, her password never on a command line (or --generate: printed once)
  PW=\$(head -c 18 /dev/urandom | base64); printf '%s\\n' "\$PW" | \\
      kubectl jack user add eve -n $demo_ns --email eve@example.com --role staff --password-stdin --wait
  EVE=\$(curl -s -X POST http://127.0.0.1:$port/api/v1/auth/login -H 'Content-Type: application/json' \\
      -d "{\\"email\\":\\"eve@example.com\\",\\"password\\":\\"\$PW\\"}" | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
  curl -s http://127.0.0.1:$port/api/v1/tasks -H "Authorization: Bearer \$EVE"       # eve, staff
  kubectl jack user end-sessions eve -n $demo_ns --wait   # returns once every replica refuses her earlier tokens
  curl -s http://127.0.0.1:$port/api/v1/tasks -H "Authorization: Bearer \$EVE"       # TOKEN_EXPIRED: that session ended

  # the signing key: its ring, and a rotation that returns once the new key signs on every replica
  kubectl jack key status jack -n $demo_ns
  kubectl jack key rotate jack -n $demo_ns --wait     # about a minute: 30s prepublish, then the kubelet's file sync
  kubectl events -n $demo_ns --for signingkey/jack

make demo-down stops the cluster and removes everything it made.
TRY
}

down() {
  stop_portfwd
  rm -f "$bin/demo-portfwd.log"
  "$root/hack/cluster/cluster.sh" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down" ;;
esac
