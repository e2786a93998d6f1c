#!/usr/bin/env bash
# Runs the whole test suite on this machine, doing any set-up first: Node 24,
# npm ci, and the real nats-server / kube-apiserver / etcd / kube-controller-manager
# / helm, and the test node's kubelet, kube-proxy, kube-scheduler, CoreDNS and Debian
# packages (built from Go modules and cached). Extra arguments go to vitest, e.g.
#   scripts/test.sh --project unit      scripts/test.sh test/devenv
# The last line printed is the totals: `N passed, N failed`.
set -euo pipefail
# shellcheck source=lib/setup.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/setup.sh"
veltrix_setup
# The node suite (test/node/: Veltrix installed by helm on a real node) in its short form;
# VELTRIX_NODE_SUITE=full runs every node file, off none (docs/testing.md).
export VELTRIX_NODE_SUITE="${VELTRIX_NODE_SUITE:-short}"
exec npx vitest run "$@"
