// What each import costs a fresh Node process: imports the given modules one after another,
// resolved from DIR (a compiled tree with its node_modules), and prints RSS, anonymous and
// file-backed RSS (/proc/self/status) and the V8 heap after a full GC following each one.
// Plain JavaScript: a .ts entry point would load Node's type stripper first (+17 MiB RSS).
//   scripts/with-node24 node --expose-gc bench/import-cost.js DIR MODULE...
// DIR is for example `npx tsc -p tsconfig.build.json --outDir /tmp/tree` plus a copy of the
// bundle's node_modules; MODULE e.g. prom-client ./operator/operator.js ./operator/main.js
// (docs/adr/0010-operator-footprint.md). Importing operator/main.js does not start it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, ...modules] = process.argv.slice(2);
if (!dir || modules.length === 0) {
  console.error("usage: node --expose-gc bench/import-cost.js DIR MODULE...");
  process.exit(2);
}
const resolve = createRequire(join(dir, "package.json")).resolve;
const gc = globalThis.gc;
if (!gc) console.error("run with --expose-gc: the figures below include garbage");

function row(label) {
  gc?.();
  const status = readFileSync("/proc/self/status", "utf8");
  const mib = (key) =>
    (Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0) / 1024).toFixed(1);
  const m = process.memoryUsage();
  const heap = (n) => (n / 1048576).toFixed(1);
  return [
    label.padEnd(48),
    mib("VmRSS"),
    mib("RssAnon"),
    mib("RssFile"),
    heap(m.heapUsed),
    heap(m.heapTotal),
  ].join("\t");
}

console.log(["import".padEnd(48), "RSS", "anon", "file", "heapUsed", "heapTotal"].join("\t"));
console.log(row("(bare)"));
for (const spec of modules) {
  await import(spec.startsWith("node:") ? spec : pathToFileURL(resolve(spec)).href);
  console.log(row(spec));
}
