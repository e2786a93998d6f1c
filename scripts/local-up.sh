#!/usr/bin/env bash
# Runs Veltrix locally with its embedded defaults, doing any set-up first: a real
# control plane (etcd, kube-apiserver, kube-controller-manager) and NATS with
# JetStream on loopback, then Veltrix on top. Ctrl-C stops everything.
#   scripts/local-up.sh            run until interrupted
#   scripts/local-up.sh --check    start, verify, stop (used by the tests)
set -euo pipefail
# shellcheck source=lib/setup.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/setup.sh"
veltrix_setup
exec node devenv/local-stack.ts "$@"
