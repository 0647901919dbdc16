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
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

up() {
  if running; then
    echo "demo: already running (pid $(cat "$pidfile")); 'make demo-down' stops it."
  else
    rm -f "$kubeconfig"
    echo "demo: building the local control plane launcher..."
    (cd "$root" && go build -o "$bin/controlplane" ./hack/controlplane)
    echo "demo: starting kube-apiserver and etcd on loopback (log: $logfile)..."
    # setsid: the control plane outlives this script and its terminal.
    setsid "$bin/controlplane" -write-kubeconfig "$kubeconfig" >"$logfile" 2>&1 </dev/null &
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

  echo "demo: applying the samples (config/samples)..."
  kubectl apply -k "$root/config/samples"
  echo
  kubectl get jackusers,signingkeys
  cat <<MSG

The local API server is running with the jack-operator CRDs and samples.
Try it:
  export KUBECONFIG=$kubeconfig
  bin/kubectl get jackusers,signingkeys            # short: bin/kubectl get jack
  bin/kubectl explain jackuser.spec.role
  bin/kubectl patch jackuser sam --type=merge -p '{"spec":{"role":"boss"}}'   # refused with a sentence

Stop it and remove its data:
  make demo-down
MSG
}

down() {
  if ! running; then
    echo "demo: not running"
    rm -f "$pidfile" "$kubeconfig"
    return
  fi
  pid=$(cat "$pidfile")
  echo "demo: stopping the control plane (pid $pid)..."
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "demo: the control plane did not stop within 60s; killing it" >&2
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
  fi
  rm -f "$pidfile" "$kubeconfig"
  echo "demo: stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
