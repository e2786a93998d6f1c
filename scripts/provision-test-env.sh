#!/usr/bin/env bash
# Provisions the real components the integration tests run, once, into a cache
# outside the repo ($VELTRIX_CACHE/bin, default ~/.cache/veltrix/bin):
#   kube-apiserver, kube-controller-manager, kubectl, etcd  (Go modules, devenv/tools/k8s)
#   kubelet, kube-scheduler, kube-proxy              (same module: the test node)
#   coredns                                          (Go module, devenv/tools/coredns)
#   pause                                            (C, build/pause/linux/pause.c of k8s.io/kubernetes)
#   containerd, runc, CNI plugins, iptables          (Debian's packages, apt-get when root)
#   nats-server                                      (Go module; Debian's as a fallback)
#   helm                                             (Go module)
#   vegeta                                           (Go module; the benchmarks' open-loop load)
#   prometheus                                       (Go module; the dashboard test's Prometheus)
#   go-httpbin                                       (Go module; the HTTP fidelity suite's app)
# Versions: devenv/tools/versions.env. A binary already in the cache is reused.
# KUBEBUILDER_ASSETS, when it holds kube-apiserver and etcd, is used for those two.
# Prints the bin directory on its last line. Fails naming what it could not provide.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../devenv/tools/versions.env
. "$root/devenv/tools/versions.env"
cache="${VELTRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veltrix}"
bin="$cache/bin"
mkdir -p "$bin"

log() { echo "provision: $*" >&2; }
fail() {
  echo "provision: ERROR: $*" >&2
  exit 1
}

need_go() {
  command -v go >/dev/null 2>&1 || fail "Go is needed to build $1 (install Go 1.25+ or apt-get install golang-go), or place the binary in $bin"
}

# Builds go into a temp dir and move into place, so an interrupted build never
# leaves a broken binary in the cache.
install_built() {
  local name="$1" version="$2" tmpdir="$3"
  mv -f "$tmpdir/$name" "$bin/$name-$version"
  ln -sfn "$name-$version" "$bin/$name"
}

have() { [ -x "$bin/$1-$2" ]; }

provision_k8s() {
  local k8s="$KUBERNETES_VERSION" missing=()
  have kube-apiserver "$k8s" || missing+=(k8s.io/kubernetes/cmd/kube-apiserver)
  have kube-controller-manager "$k8s" || missing+=(k8s.io/kubernetes/cmd/kube-controller-manager)
  have kubectl "$k8s" || missing+=(k8s.io/kubernetes/cmd/kubectl)
  have etcd "$ETCD_VERSION" || missing+=(./etcd)
  local node_tool
  for node_tool in kubelet kube-scheduler kube-proxy; do
    have "$node_tool" "$k8s" || missing+=("k8s.io/kubernetes/cmd/$node_tool")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "kube-apiserver, kube-controller-manager, kubectl, kubelet, kube-scheduler, kube-proxy $k8s and etcd $ETCD_VERSION: cached"
    for node_tool in kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler kube-proxy; do
      ln -sfn "$node_tool-$k8s" "$bin/$node_tool"
    done
    ln -sfn "etcd-$ETCD_VERSION" "$bin/etcd"
    return
  fi
  need_go "${missing[*]}"
  local minor="${k8s#v1.}"
  minor="${minor%%.*}"
  # Stamp the version the way the Kubernetes release build does, so discovery
  # (/version) reports the real version and clients can detect features by it.
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  local tmp
  tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  log "building ${missing[*]} (Kubernetes $k8s) from Go modules; a cold build takes several minutes"
  (cd "$root/devenv/tools/k8s" && go build -mod=readonly -buildvcs=false -trimpath -ldflags "$ld" -o "$tmp/" "${missing[@]}") ||
    fail "could not build ${missing[*]} from devenv/tools/k8s (needs the Go module proxy)"
  [ -f "$tmp/kube-apiserver" ] && install_built kube-apiserver "$k8s" "$tmp"
  [ -f "$tmp/kube-controller-manager" ] && install_built kube-controller-manager "$k8s" "$tmp"
  [ -f "$tmp/kubectl" ] && install_built kubectl "$k8s" "$tmp"
  [ -f "$tmp/etcd" ] && install_built etcd "$ETCD_VERSION" "$tmp"
  for node_tool in kubelet kube-scheduler kube-proxy; do
    [ -f "$tmp/$node_tool" ] && install_built "$node_tool" "$k8s" "$tmp"
  done
  rm -rf "$tmp"
  provision_k8s
}

# go_install NAME VERSION PACKAGE [EXTRA_LDFLAGS [BUILD_TAGS]]
go_install() {
  local name="$1" version="$2" pkg="$3" ld="-s -w ${4:-}" tags="${5:-}" tmp
  tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  log "building $name $version from Go modules"
  if GOBIN="$tmp" GOFLAGS=-buildvcs=false go install -trimpath -tags "$tags" -ldflags "$ld" "$pkg@$version"; then
    install_built "$name" "$version" "$tmp"
    rm -rf "$tmp"
    return 0
  fi
  rm -rf "$tmp"
  return 1
}

provision_nats() {
  if have nats-server "$NATS_SERVER_VERSION"; then
    log "nats-server $NATS_SERVER_VERSION: cached"
    ln -sfn "nats-server-$NATS_SERVER_VERSION" "$bin/nats-server"
    return
  fi
  if command -v go >/dev/null 2>&1 && go_install nats-server "$NATS_SERVER_VERSION" "github.com/nats-io/nats-server/v2"; then
    return
  fi
  # Debian's 2.9.10 predates fixes for JetStream streams lost after kill -9; it is a
  # fallback so tests can still run, not a choice.
  log "WARNING: could not build nats-server $NATS_SERVER_VERSION; falling back to Debian's nats-server (2.9.x, older JetStream)"
  if ! command -v nats-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server) >&2 ||
        fail "nats-server: neither the Go build nor apt-get install nats-server worked"
    else
      fail "nats-server: the Go build failed and no nats-server is installed (apt-get install nats-server)"
    fi
  fi
  ln -sfn "$(command -v nats-server)" "$bin/nats-server"
}

provision_helm() {
  if have helm "$HELM_VERSION"; then
    log "helm $HELM_VERSION: cached"
    ln -sfn "helm-$HELM_VERSION" "$bin/helm"
    return
  fi
  need_go "helm $HELM_VERSION"
  local major="${HELM_VERSION%%.*}"
  go_install helm "$HELM_VERSION" "helm.sh/helm/$major/cmd/helm" \
    "-X helm.sh/helm/$major/internal/version.version=$HELM_VERSION" ||
    fail "could not build helm $HELM_VERSION from Go modules"
}

provision_vegeta() {
  if have vegeta "$VEGETA_VERSION"; then
    log "vegeta $VEGETA_VERSION: cached"
    ln -sfn "vegeta-$VEGETA_VERSION" "$bin/vegeta"
    return
  fi
  need_go "vegeta $VEGETA_VERSION"
  go_install vegeta "$VEGETA_VERSION" "github.com/tsenart/vegeta/v12" ||
    fail "could not build vegeta $VEGETA_VERSION from Go modules"
}

provision_prometheus() {
  if have prometheus "$PROMETHEUS_VERSION"; then
    log "prometheus $PROMETHEUS_VERSION: cached"
    ln -sfn "prometheus-$PROMETHEUS_VERSION" "$bin/prometheus"
    return
  fi
  need_go "prometheus $PROMETHEUS_VERSION"
  # remove_all_sd: no service discovery plugins (the test scrapes static targets), which
  # halves the build. A cold build takes several minutes.
  go_install prometheus "$PROMETHEUS_VERSION" "github.com/prometheus/prometheus/cmd/prometheus" "" remove_all_sd ||
    fail "could not build prometheus $PROMETHEUS_VERSION from Go modules"
}

provision_go_httpbin() {
  if have go-httpbin "$GO_HTTPBIN_VERSION"; then
    log "go-httpbin $GO_HTTPBIN_VERSION: cached"
    ln -sfn "go-httpbin-$GO_HTTPBIN_VERSION" "$bin/go-httpbin"
    return
  fi
  need_go "go-httpbin $GO_HTTPBIN_VERSION"
  go_install go-httpbin "$GO_HTTPBIN_VERSION" "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin" ||
    fail "could not build go-httpbin $GO_HTTPBIN_VERSION from Go modules"
}

provision_coredns() {
  # The plugin set (main.go) is part of the build's identity.
  local version
  version="$COREDNS_VERSION-$(cat "$root/devenv/tools/coredns/main.go" "$root/devenv/tools/coredns/go.sum" | sha256sum | cut -c1-8)"
  if have coredns "$version"; then
    log "coredns $version: cached"
    ln -sfn "coredns-$version" "$bin/coredns"
    return
  fi
  need_go "coredns $COREDNS_VERSION"
  local tmp
  tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  log "building coredns $COREDNS_VERSION (the test node's cluster DNS) from Go modules"
  (cd "$root/devenv/tools/coredns" && go build -mod=readonly -buildvcs=false -trimpath -ldflags "-s -w" -o "$tmp/coredns" .) ||
    fail "could not build coredns from devenv/tools/coredns (needs the Go module proxy)"
  install_built coredns "$version" "$tmp"
  rm -rf "$tmp"
}

# The pod sandbox image's one program, compiled statically from the Kubernetes module's source
# (no registry is reachable to pull registry.k8s.io/pause).
provision_pause() {
  if have pause "$PAUSE_VERSION"; then
    log "pause $PAUSE_VERSION: cached"
    ln -sfn "pause-$PAUSE_VERSION" "$bin/pause"
    return
  fi
  command -v cc >/dev/null 2>&1 || fail "a C compiler is needed to build pause (apt-get install gcc libc6-dev)"
  local src
  src="$(cd "$root/devenv/tools/k8s" && go list -mod=readonly -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
  [ -f "$src" ] || fail "pause.c not found at $src"
  local tmp
  tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  log "building pause $PAUSE_VERSION from $src"
  cc -Os -static -DVERSION="$PAUSE_VERSION" -o "$tmp/pause" "$src" && strip "$tmp/pause" ||
    fail "could not compile pause statically (apt-get install libc6-dev)"
  install_built pause "$PAUSE_VERSION" "$tmp"
  rm -rf "$tmp"
}

# The node's container runtime and image tools come from Debian's packages.
provision_node_packages() {
  local missing=()
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  command -v umoci >/dev/null 2>&1 || missing+=(umoci)
  command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
  if [ ${#missing[@]} -eq 0 ]; then
    log "containerd, runc, CNI plugins, iptables, umoci, skopeo: installed"
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install ${missing[*]} (the test node)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >&2 &&
      return
  fi
  log "WARNING: ${missing[*]} missing (apt-get install ${missing[*]}); the node suite will fail naming them"
}

assets_ok() {
  [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]
}

if assets_ok; then
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS provides kube-apiserver and etcd"
fi
provision_k8s
provision_nats
provision_helm
provision_vegeta
provision_go_httpbin
provision_prometheus
provision_coredns
provision_pause
provision_node_packages
echo "$bin"
