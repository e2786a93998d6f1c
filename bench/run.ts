// `npm run bench`: the story's experiment (bench/story.ts, which also writes its section
// of docs/benchmarks.md and the charts in docs/bench/), then the other benchmarks
// (proxy overhead and saturation against HAProxy, memory per held request, the CPU of the
// client-timeout check with many requests open, the sidecar's
// footprint per pod, the record store, what durability costs, config propagation to 50
// sidecars, admission with and without the webhook, the
// operator at scale), each writing
// bench/results/<name>.json.
// `npm run bench -- --quick`: every scenario of the story at small scale (CI runs it as
// test/bench/story-quick.test.ts; it fails only when the harness is broken, and leaves
// docs/ alone). The other benchmarks' short forms run in test/bench/ already.
//   scripts/with-node24 npm run bench [-- --quick] [-- --only=ramp,overload]
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const quick = process.argv.includes("--quick");
const pass = process.argv.slice(2).filter((a) => a.startsWith("--only=") || a === "--quick");
const scripts: [string, string[]][] = [["story.ts", pass]];
if (!quick && !pass.some((a) => a.startsWith("--only=")))
  scripts.push(
    ["sidecar-proxy.ts", []],
    ["sidecar-memory.ts", []],
    ["connection-sweep.ts", []],
    ["sidecar-footprint.ts", []],
    ["sidecar-store.ts", []],
    ["durability.ts", []],
    ["config-propagation.ts", []],
    ["webhook-latency.ts", []],
    ["operator-scale.ts", []],
  );
let failed = 0;
for (const [file, args] of scripts) {
  console.log(`\n=== bench/${file} ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [join(import.meta.dirname, file), ...args], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${file} failed (exit ${String(r.status ?? r.signal)})`);
  }
}
// The story's section ends with the bars the other benchmarks measure: render it again
// now that their results are from this invocation.
if (!quick && !pass.some((a) => a.startsWith("--only="))) {
  const { renderStory } = await import("./story-report.ts");
  console.log(`\nreport: ${renderStory()}`);
}
process.exit(failed ? 1 : 0);
