#!/usr/bin/env bash
# End-to-end on a real cluster (kind), for machines with a container engine:
#   create a kind cluster, build and load the operator and sidecar images, install the chart
#   with its bundled NATS, deploy a sample app that opts in, send traffic, and assert
#   injection, queueing (the app never sees more than maxConcurrency) and config reload.
# Not part of scripts/test.sh or the test count.
#
# Exit status: 0 passed, 1 failed, 2 a tool is missing (kind, kubectl, helm),
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
pf_pids=()

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

cleanup() {
  for pid in "${pf_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
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

port_forward() { # port_forward <local> <remote> -> background kubectl port-forward to the app pod
  kubectl -n "$ns_app" port-forward "pod/$pod" "$1:$2" >/dev/null 2>&1 &
  pf_pids+=($!)
  wait_for "port-forward :$1" 30 curl -s -o /dev/null "http://127.0.0.1:$1/"
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

# --- sample app ----------------------------------------------------------------------------
say "deploying the sample app"
kubectl create namespace "$ns_app"
kubectl label namespace "$ns_app" veltrix.io/injection=enabled
kubectl -n "$ns_app" apply -f - <<'YAML'
apiVersion: veltrix.io/v1alpha1
kind: VeltrixConfig
metadata:
  name: echo
spec:
  config:
    greeting: hello
  queue:
    mode: sync
    maxConcurrency: 2
YAML
wait_for "VeltrixConfig Ready" 120 bash -c \
  "kubectl -n $ns_app get vxc echo -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"

# The app: a slow HTTP server (200 ms per request) that records the highest concurrency it saw;
# it runs on the sidecar image's Node runtime so no other image is pulled.
app_js='let n=0,max=0;require("http").createServer((q,s)=>{if(q.url==="/stats"){s.end(JSON.stringify({max}));return}n++;max=Math.max(max,n);setTimeout(()=>{n--;s.end("ok "+q.url)},200)}).listen(8080)'
kubectl -n "$ns_app" apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 1
  selector:
    matchLabels: { app: echo }
  template:
    metadata:
      labels: { app: echo }
      annotations:
        veltrix.io/config: echo
        veltrix.io/app-port: "8080"
    spec:
      containers:
        - name: app
          image: veltrix/sidecar:$tag
          imagePullPolicy: Never
          command: ["/nodejs/bin/node", "-e", $(printf '%s' "$app_js" | sed 's/"/\\"/g; s/^/"/; s/$/"/')]
          ports:
            - name: http
              containerPort: 8080
YAML
kubectl -n "$ns_app" rollout status deploy/echo --timeout 180s
pod="$(kubectl -n "$ns_app" get pods -l app=echo -o jsonpath='{.items[0].metadata.name}')"

# --- injection -----------------------------------------------------------------------------
status="$(kubectl -n "$ns_app" get pod "$pod" -o jsonpath='{.metadata.annotations.veltrix\.io/status}')"
[ "$status" = injected ] || fail "pod $pod not injected (veltrix.io/status='$status')"
containers="$(kubectl -n "$ns_app" get pod "$pod" -o jsonpath='{.spec.initContainers[*].name} {.spec.containers[*].name}')"
case " $containers " in *" veltrix-sidecar "*) ;; *) fail "no veltrix-sidecar container in $pod ($containers)" ;; esac
say "injection ok: $pod has veltrix-sidecar"

# --- traffic and queueing ------------------------------------------------------------------
port_forward 15080 15080
port_forward 15090 15090
say "sending 20 concurrent requests through the sidecar"
codes="$(seq 1 20 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:15080/r{}" | sort | uniq -c)"
echo "$codes"
ok="$(echo "$codes" | awk '$2==200{print $1}')"
[ "${ok:-0}" -eq 20 ] || fail "expected 20 x 200, got: $codes"
header="$(curl -si http://127.0.0.1:15080/h | grep -i '^x-veltrix-request-id:' || true)"
[ -n "$header" ] || fail "responses carry no x-veltrix-request-id header"
max="$(curl -s http://127.0.0.1:15080/stats | sed 's/[^0-9]//g')"
[ -n "$max" ] && [ "$max" -le 2 ] || fail "the app saw $max concurrent requests, more than maxConcurrency 2"
curl -s http://127.0.0.1:15090/metrics | grep -q '^veltrix_sidecar_requests_total{.*outcome="done"' ||
  fail "sidecar metrics show no completed requests"
say "queueing ok: 20 requests served, the app never saw more than $max at once"

# --- config reload -------------------------------------------------------------------------
before="$(kubectl -n "$ns_app" get vxc echo -o jsonpath='{.status.revision}')"
kubectl -n "$ns_app" patch vxc echo --type merge -p '{"spec":{"config":{"greeting":"hello again"}}}'
wait_for "a new revision" 60 bash -c \
  "[ \"\$(kubectl -n $ns_app get vxc echo -o jsonpath='{.status.revision}')\" != '$before' ]"
wait_for "the sidecar to serve the new config" 60 bash -c \
  "curl -s http://127.0.0.1:15090/v1/config | grep -q 'hello again'"
say "config reload ok: revision $before -> $(kubectl -n "$ns_app" get vxc echo -o jsonpath='{.status.revision}') without a restart"

say "PASSED"
