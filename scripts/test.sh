#!/usr/bin/env bash
# Runs the whole test suite on this machine, doing any set-up first: Node 24,
# npm ci, and the real nats-server / kube-apiserver / etcd / kube-controller-manager
# / helm (built from Go modules and cached). Extra arguments go to vitest, e.g.
#   scripts/test.sh --project unit      scripts/test.sh test/devenv
# The last line printed is the totals: `N passed, N failed`.
set -euo pipefail
# shellcheck source=lib/setup.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/setup.sh"
veltrix_setup
exec npx vitest run "$@"
