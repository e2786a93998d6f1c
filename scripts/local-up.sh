#!/usr/bin/env bash
# Runs Veltrix locally, doing any set-up first. Where this machine can run a node (root,
# overlayfs, containerd and the node's binaries from the set-up), Veltrix as users meet it: a
# real single-node cluster in a network namespace of its own, the chart installed with helm,
# and the demo app injected with the sidecar (devenv/local-node.ts). Where it cannot, it says
# what is missing and falls back to the local stack: a real control plane and NATS on
# loopback, the operator, and the sidecar as a process beside the demo app, no kubelet
# (devenv/local-stack.ts). Ctrl-C stops everything.
#   scripts/local-up.sh                     run until interrupted
#   scripts/local-up.sh --check             start, verify a request through the sidecar, stop
#   VELTRIX_LOCAL=stack scripts/local-up.sh the local stack even where a node could run
set -euo pipefail
# shellcheck source=lib/setup.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/setup.sh"
veltrix_setup
case "${VELTRIX_LOCAL:-node}" in
  stack) ;;
  node)
    if missing="$(node devenv/local-node.ts --probe 2>&1)"; then
      exec node devenv/local-node.ts "$@"
    fi
    echo "local-up: this machine cannot run a node; missing:" >&2
    while IFS= read -r line; do echo "local-up:   $line" >&2; done <<<"$missing"
    echo "local-up: falling back to the local stack: control plane and NATS on loopback, the operator," >&2
    echo "local-up: and the sidecar as a process beside the demo app (no kubelet, no pods)" >&2
    ;;
  *)
    echo "local-up: VELTRIX_LOCAL must be node or stack, not '${VELTRIX_LOCAL}'" >&2
    exit 2
    ;;
esac
exec node devenv/local-stack.ts "$@"
