#!/usr/bin/env bash
# Fails when regenerating changed the tree: generated files must be committed
# exactly as `make manifests generate` writes them.
set -euo pipefail
cd "$(dirname "$0")/.."
changed=$(git status --porcelain -- api config charts controllers | grep -v '^??' || true)
untracked=$(git status --porcelain --untracked-files=all -- api/v1alpha1/zz_generated.deepcopy.go config/crd config/rbac config/webhook charts/jack-operator/files config/default/rbac.yaml | grep '^??' || true)
if [ -n "$changed$untracked" ]; then
  echo "Generated files are out of date. Run 'make manifests generate' and commit the result:" >&2
  printf '%s\n%s\n' "$changed" "$untracked" | sed '/^$/d' >&2
  git --no-pager diff --stat -- api config charts controllers >&2 || true
  exit 1
fi
echo "verify: generated files are in sync"
