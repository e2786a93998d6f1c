#!/usr/bin/env bash
# Builds the runtime tree the container images copy (images/Dockerfile runs this same script
# in its build stage), so it can be produced and tested without a container engine:
#   dist/bundle/
#     package.json      name, version, "type": "module", production dependencies only
#     package.json      also "bin": the veltrix command (cli/main.js)
#     api/ lib/ cli/    compiled JavaScript (tsc -p tsconfig.build.json), source maps
#     sidecar/main.js sidecar/record-writer.js operator/main.js
#                       the programs the images run, one minified file each with their
#                       dependencies (scripts/bundle-entries.ts, esbuild), and source maps
#     crds/veltrixconfig.yaml  the CRD, which `veltrix validate` checks against
#     node_modules/     production dependencies only (devDependencies pruned); none is a
#                       native addon (SQLite is Node's own node:sqlite)
# Start it with `node dist/bundle/operator/main.js` or `node dist/bundle/sidecar/main.js`;
# `node dist/bundle/cli/main.js --help` is the command.
# Usage: scripts/build-bundle.sh [OUT_DIR]   (needs Node 24 and a prior `npm ci`)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/dist/bundle}"
cd "$root"

if [ ! -d node_modules ]; then
  echo "build-bundle: node_modules missing; run npm ci first" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 24 ]; then
  echo "build-bundle: Node $(node --version) found, Node 24 needed (use scripts/with-node24)" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out"
npx tsc -p tsconfig.build.json --outDir "$out"
# The sidecar and the operator run from their bundled files only (the command, cli/, needs
# api/ and lib/): their compiled trees go, the bundles take their entry points' paths.
rm -rf "$out/sidecar" "$out/operator"
node scripts/bundle-entries.ts "$out"
mkdir -p "$out/crds"
cp crds/veltrixconfig.yaml "$out/crds/"

node -e '
  const fs = require("node:fs");
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const keep = { name: pkg.name, version: pkg.version, private: true, license: pkg.license,
    type: pkg.type, engines: pkg.engines, bin: { veltrix: "cli/main.js" },
    dependencies: pkg.dependencies };
  fs.writeFileSync(process.argv[1] + "/package.json", JSON.stringify(keep, null, 2) + "\n");
' "$out"
cp package-lock.json "$out/package-lock.json"
# Copy the installed tree and drop devDependencies: the same packages `npm ci --omit=dev`
# installs, without a second download.
# A symlinked node_modules (a second worktree sharing the first's) is copied as the directory it
# points to: copied as a link, the pruning below would delete the shared tree's devDependencies.
cp -a "$(readlink -f node_modules)" "$out/node_modules"
node scripts/prune-dev-deps.ts "$out"
rm -f "$out/package-lock.json"
# Nothing at run time reads type declarations or source maps of dependencies.
before="$(du -sm "$out/node_modules" | cut -f1)"
find "$out/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete
echo "build-bundle: node_modules ${before} MB -> $(du -sm "$out/node_modules" | cut -f1) MB after dropping declarations and maps"

echo "build-bundle: $(du -sh "$out" | cut -f1) in $out ($(find "$out/node_modules" -maxdepth 2 -name package.json | wc -l) top-level packages)"
