#!/usr/bin/env bash
# End-to-end on a real cluster (kind), for machines with a container engine:
#   create a kind cluster, build and load the operator, sidecar and demo-app images, install the
#   chart with its bundled NATS, then run the node suite's demo checks (test/e2e/kind/checks.ts
#   with test/node/demo-checks.ts): the demo app injected with the native sidecar and Ready,
#   requests through its Service answered in sync mode with the operator's revision, the pod in
#   sync, and a config change reaching the running pod.
# Not part of scripts/test.sh or the test count.
#
# Exit status: 0 passed, 1 failed, 2 a tool is missing (kind, kubectl, helm, npm ci not run),
#              77 skipped: no container engine is running here.
# Env: VELTRIX_KIND_CLUSTER (default veltrix-e2e), VELTRIX_KIND_KEEP=1 keeps the cluster,
#      CONTAINER_ENGINE (docker or podman; default: the first one that answers).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cluster="${VELTRIX_KIND_CLUSTER:-veltrix-e2e}"
ns_system=veltrix-system
ns_app=veltrix-e2e-app
tag="e2e-$(date +%s)"

say() { printf 'kind-e2e: %s\n' "$*"; }
fail() {
  say "FAILED: $*"
  exit 1
}

# --- prerequisites -------------------------------------------------------------------------
engine="${CONTAINER_ENGINE:-}"
if [ -z "$engine" ]; then
  for candidate in docker podman; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" info >/dev/null 2>&1; then
      engine=$candidate
      break
    fi
  done
fi
if [ -z "$engine" ] || ! "$engine" info >/dev/null 2>&1; then
  say "SKIPPED: no container engine is running here (docker/podman CLI absent or its daemon unreachable);"
  say "this end-to-end run needs one for kind. Nothing was run, nothing passed."
  exit 77
fi
for tool in kind kubectl helm; do
  command -v "$tool" >/dev/null 2>&1 || {
    say "missing tool: $tool (install it, then re-run)"
    exit 2
  }
done
[ "$engine" = podman ] && export KIND_EXPERIMENTAL_PROVIDER=podman
[ -d "$root/node_modules/@kubernetes/client-node" ] || {
  say "missing: the project's dependencies (scripts/with-node24 npm ci), which the checks run with"
  exit 2
}

cleanup() {
  if [ "${VELTRIX_KIND_KEEP:-}" != 1 ]; then
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  else
    say "cluster kept: kind get kubeconfig --name $cluster"
  fi
}
trap cleanup EXIT

wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${secs}s waiting for $what"
    sleep 2
  done
}

# --- cluster, images, chart ----------------------------------------------------------------
say "creating kind cluster $cluster"
kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
kind create cluster --name "$cluster" --wait 120s
kubectl config use-context "kind-$cluster" >/dev/null

for target in operator sidecar; do
  say "building image veltrix/$target:$tag"
  "$engine" build -f "$root/images/Dockerfile" --target "$target" -t "veltrix/$target:$tag" "$root"
  kind load docker-image --name "$cluster" "veltrix/$target:$tag"
done

say "installing the chart with its bundled NATS"
helm install veltrix "$root/charts/veltrix" -n "$ns_system" --create-namespace --wait --timeout 5m \
  --set nats.install=true \
  --set operator.image.repository=veltrix/operator --set operator.image.tag="$tag" \
  --set operator.image.pullPolicy=Never \
  --set sidecar.image.repository=veltrix/sidecar --set sidecar.image.tag="$tag" \
  --set sidecar.image.pullPolicy=Never
kubectl -n "$ns_system" rollout status deploy/veltrix --timeout 180s
wait_for "caBundle in the webhook configuration" 120 bash -c \
  "kubectl get mutatingwebhookconfiguration veltrix-$ns_system -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | grep -q ."

# --- the demo app and the node suite's checks ------------------------------------------------
# The same demo app, deployment and assertions as the node suite (test/node/install.test.ts):
# test/e2e/kind/checks.ts runs test/node/demo-checks.ts against this cluster. The demo app's
# image is the sidecar image (its Node runtime) with devenv/demo-app.ts added.
say "building image veltrix/demo-app:$tag"
demo_ctx="$(mktemp -d)"
cp "$root/devenv/demo-app.ts" "$demo_ctx/demo-app.ts"
printf 'FROM veltrix/sidecar:%s\nCOPY demo-app.ts /app/demo-app.ts\nCMD ["demo-app.ts", "8080", "http://127.0.0.1:15090"]\n' "$tag" |
  "$engine" build -t "veltrix/demo-app:$tag" -f - "$demo_ctx"
rm -rf "$demo_ctx"
kind load docker-image --name "$cluster" "veltrix/demo-app:$tag"

kubeconfig="$(mktemp)"
kind get kubeconfig --name "$cluster" >"$kubeconfig"
say "running the node suite's demo checks (test/node/demo-checks.ts)"
status=0
(cd "$root" && scripts/with-node24 node test/e2e/kind/checks.ts --kubeconfig "$kubeconfig" \
  --demo-image "veltrix/demo-app:$tag" --namespace "$ns_app") || status=$?
rm -f "$kubeconfig"
[ "$status" -eq 0 ] || fail "the demo checks failed (exit $status)"
say "PASSED"
