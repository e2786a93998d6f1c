# shellcheck shell=bash
# Sourced by the top-level scripts: Node >= 24 on PATH, dependencies installed,
# real test components provisioned. Idempotent and quick when nothing changed.
here_lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VELTRIX_ROOT="$(cd "$here_lib/../.." && pwd)"
# shellcheck source=node.sh
. "$here_lib/node.sh"

# The benchmarks' load generator and anchor (wrk, HAProxy) and the fault suite's clock
# skew (libfaketime) come from Debian's packages; their short modes run in the test
# suite, so they are installed here when missing and this user may (root with
# apt-get), and named when not.
veltrix_ensure_debian_tools() {
  local missing=()
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  command -v faketime >/dev/null 2>&1 || missing+=(faketime)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "veltrix: apt-get install ${missing[*]}" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2 && return 0
  fi
  echo "veltrix: WARNING: ${missing[*]} missing (apt-get install ${missing[*]}); the benchmark and fault tests will fail" >&2
}

veltrix_setup() {
  # Explicit returns: callers run this inside `if`, where `set -e` does not apply.
  # Done once per process tree: .ci/run sets up, then runs scripts/test.sh.
  if [ "${VELTRIX_SETUP_DONE:-}" = "$VELTRIX_ROOT" ]; then
    veltrix_use_node24 && cd "$VELTRIX_ROOT"
    return
  fi
  veltrix_ensure_debian_tools
  veltrix_use_node24 || return 1
  cd "$VELTRIX_ROOT" || return 1
  # npm ci when the lockfile changed since the last install (or in CI, always).
  if [ -n "${CI:-}" ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "veltrix: npm ci (Node $(node --version))" >&2
    npm ci --no-audit --no-fund >&2 || {
      echo "veltrix: npm ci failed" >&2
      return 1
    }
  fi
  local provisioned
  provisioned="$(bash scripts/provision-test-env.sh)" || return 1
  VELTRIX_BIN="$(tail -n 1 <<<"$provisioned")"
  export VELTRIX_BIN
  export VELTRIX_SETUP_DONE="$VELTRIX_ROOT"
}
