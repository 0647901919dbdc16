#!/usr/bin/env bash
# Installs Debian's nginx for test/gateways, only when no nginx is on the
# machine. The tests use the binary alone: each runs its own nginx with its
# own configuration, pid file and logs in the test's directory, never the
# system service; so the package's service is kept from starting here.
#
# usage: hack/install-nginx.sh      (root, or sudo)
set -euo pipefail

for candidate in "$(command -v nginx || true)" /usr/sbin/nginx /usr/local/sbin/nginx; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "install-nginx: $("$candidate" -v 2>&1) is installed ($candidate)"
    exit 0
  fi
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-nginx: nginx is missing; run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi

# Debian starts a package's service after installing it unless
# policy-rc.d says no (exit 101); say so for this install only.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  $sudo sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy"
  trap '$sudo rm -f "$policy"' EXIT
fi

echo "install-nginx: apt-get install nginx..."
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
echo "install-nginx: installed $(/usr/sbin/nginx -v 2>&1)"
