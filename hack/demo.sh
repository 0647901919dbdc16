#!/usr/bin/env bash
# The local demo: a kube-apiserver and etcd on loopback, built from source,
# with the CRDs installed and the samples applied.
#
# usage: hack/demo.sh up|down
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
kubeconfig=$bin/kubeconfig
pidfile=$bin/demo.pid
logfile=$bin/demo.log
manager_pidfile=$bin/demo-manager.pid
manager_log=$bin/manager.log
metrics_addr=127.0.0.1:18080
operator_ns=jack-system
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
manager_running() { [ -f "$manager_pidfile" ] && kill -0 "$(cat "$manager_pidfile")" 2>/dev/null; }

stop_pid() { # pidfile what
  local pid
  pid=$(cat "$1")
  echo "demo: stopping $2 (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "demo: $2 did not stop within 60s; killing it" >&2
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
  fi
  rm -f "$1"
}

up() {
  if running; then
    echo "demo: already running (pid $(cat "$pidfile")); 'make demo-down' stops it."
  else
    rm -f "$kubeconfig"
    echo "demo: building the local control plane launcher..."
    (cd "$root" && go build -o "$bin/controlplane" ./hack/controlplane)
    echo "demo: starting kube-apiserver and etcd on loopback (log: $logfile)..."
    # setsid: the control plane outlives this script and its terminal.
    setsid "$bin/controlplane" -write-kubeconfig "$kubeconfig" -write-webhook-env "$bin/demo-webhook.env" >"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 1 180); do
      [ -f "$kubeconfig" ] && break
      if ! running; then
        echo "demo: the control plane failed to start:" >&2
        tail -20 "$logfile" >&2
        rm -f "$pidfile"
        exit 1
      fi
      sleep 1
    done
    [ -f "$kubeconfig" ] || { echo "demo: the control plane did not start within 180s; see $logfile" >&2; exit 1; }
  fi

  if manager_running; then
    echo "demo: the operator is already running (pid $(cat "$manager_pidfile"))"
  else
    echo "demo: building and starting the operator (log: $manager_log)..."
    (cd "$root" && go build -o "$bin/manager" .)
    # shellcheck source=/dev/null
    . "$bin/demo-webhook.env"
    # The operator makes its own webhook certificates (--webhook-cert-mode=self)
    # in a Secret of its namespace, and puts its CA into the caBundle of the
    # webhook configurations the control plane installed. The API server calls
    # them at https://$WEBHOOK_HOST:$WEBHOOK_PORT, so the certificate is also
    # for that address.
    kubectl create namespace "$operator_ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
    setsid "$bin/manager" --kubeconfig "$kubeconfig" --metrics-bind-address "$metrics_addr" \
      --health-probe-bind-address 127.0.0.1:18081 --zap-devel=false --operator-namespace "$operator_ns" \
      --webhook-host "$WEBHOOK_HOST" --webhook-port "$WEBHOOK_PORT" --webhook-cert-ip-sans "$WEBHOOK_HOST" \
      >"$manager_log" 2>&1 </dev/null &
    echo $! >"$manager_pidfile"
  fi
  # The JackUser webhook refuses every JackUser while it is down, so wait for it.
  for _ in $(seq 1 60); do
    curl -sf http://127.0.0.1:18081/readyz >/dev/null && break
    if ! manager_running; then
      echo "demo: the operator stopped; its log ($manager_log) ends with:" >&2
      tail -20 "$manager_log" >&2
      exit 1
    fi
    sleep 1
  done

  echo "demo: applying the samples (config/samples)..."
  kubectl apply -k "$root/config/samples"
  echo "demo: waiting for the SigningKey and the JackUsers to be Ready..."
  if ! kubectl wait --for=condition=Ready signingkey/jack --timeout=60s ||
     ! kubectl wait --for=condition=Ready jackusers --all --timeout=60s; then
    echo "demo: the samples did not become Ready; the operator's log ($manager_log) ends with:" >&2
    tail -20 "$manager_log" >&2
    exit 1
  fi
  echo
  kubectl get jackusers,signingkeys
  cat <<MSG

A local API server and the operator are running, with the samples applied.
Try it:
  export KUBECONFIG=$kubeconfig
  bin/kubectl get jack                                 # JackUsers and SigningKeys
  bin/kubectl patch jackuser sam --type=merge -p '{"spec":{"disabled":true}}'  # sam's sessions end
  bin/kubectl get jackuser sam -o jsonpath='{.status.sessionsValidAfter}{"\\n"}'
  bin/kubectl apply -f - <<EOF   # refused: emails are unique per namespace
apiVersion: auth.jack.io/v1alpha1
kind: JackUser
metadata: {name: sam2}
spec: {email: SAM@example.com, name: Sam Two, role: staff, passwordSecretRef: {name: sam-password}}
EOF
  bin/kubectl label namespace default auth.jack.io/injection=enabled       # then a pod that opts in gets the sidecar:
  bin/kubectl run jack --image=jack:1 --labels=auth.jack.io/inject=true --dry-run=server -o yaml | grep -A12 initContainers
  bin/kubectl get secret jack-jwt -o jsonpath='{.data.keyring\.json}' | base64 -d | grep -E '"(kid|alg|state)"'
  bin/kubectl annotate signingkey jack auth.jack.io/rotate="\$(date +%s)"   # rotate now
  bin/kubectl get signingkey jack -o jsonpath='{range .status.keys[*]}{.id}{"\\t"}{.state}{"\\n"}{end}'
  bin/kubectl events --for signingkey/jack             # Rotated, KeyPublished, KeyRetired...
  curl -s http://$metrics_addr/metrics | grep ^jack_   # rotation metrics
  bin/kubectl -n $operator_ns events --for secret/jack-operator-webhook-certs   # the webhook certificates: DoesNotExist, CABundleUpdated
  bin/kubectl get validatingwebhookconfiguration validating-webhook-configuration -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | base64 -d | openssl x509 -noout -subject -enddate
  bin/kubectl explain signingkey.spec.rotation
  bin/kubectl patch jackuser sam --type=merge -p '{"spec":{"role":"boss"}}'   # refused with a sentence

Stop it all and remove its data:
  make demo-down
MSG
}

down() {
  manager_running && stop_pid "$manager_pidfile" "the operator"
  rm -f "$manager_pidfile"
  if ! running; then
    echo "demo: the control plane is not running"
    rm -f "$pidfile" "$kubeconfig"
    return
  fi
  stop_pid "$pidfile" "the control plane"
  rm -f "$kubeconfig"
  echo "demo: stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
