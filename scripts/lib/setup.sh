# shellcheck shell=bash
# Sourced by the top-level scripts: Node >= 24 on PATH, dependencies installed,
# real test components provisioned. Idempotent and quick when nothing changed.
here_lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VELTRIX_ROOT="$(cd "$here_lib/../.." && pwd)"
# shellcheck source=node.sh
. "$here_lib/node.sh"

veltrix_setup() {
  veltrix_use_node24
  cd "$VELTRIX_ROOT"
  # npm ci when the lockfile changed since the last install (or in CI, always).
  if [ -n "${CI:-}" ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "veltrix: npm ci (Node $(node --version))" >&2
    npm ci --no-audit --no-fund >&2
  fi
  VELTRIX_BIN="$(bash scripts/provision-test-env.sh | tail -n 1)"
  export VELTRIX_BIN
}
