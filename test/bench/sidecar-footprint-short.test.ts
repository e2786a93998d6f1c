// bench/sidecar-footprint.ts in its quick form (a smaller burst, a shorter wait, no image
// build, no operator), so CI (.ci/run → scripts/test.sh) runs the footprint bench on every
// change. No figure is asserted against a bound (docs/benchmarks.md has the full run): that
// the sidecar and the floor were started, became ready, answered, held and released the
// burst, and that every figure is there and sane, is.
import { expect, it } from "vitest";
import { benchResults, runBench } from "./run-bench.ts";

interface Memory {
  rss: number;
  anon: number;
  file: number;
}
interface Run {
  startToReadyMs: number;
  firstRequestMs: number;
  idle: Memory;
  peak: Memory;
  after: Memory;
  answered: number;
}
interface Quick {
  short: boolean;
  data: {
    runs: number;
    plan: { held: number };
    rows: Record<string, string | number>[];
    raw: { floor: Run[]; sidecar: Run[] };
    breakdown: Record<string, Record<string, number>>;
  };
}

it("bench/sidecar-footprint.ts --quick measures the sidecar beside the bare-Node floor", async () => {
  const { code, out } = await runBench("sidecar-footprint.ts", ["--quick"]);
  expect(code, out).toBe(0);
  const r = benchResults<Quick>("sidecar-footprint-quick");
  expect(r.short).toBe(true);
  const { raw, plan } = r.data;
  for (const [who, runs] of Object.entries(raw)) {
    expect(runs, who).toHaveLength(r.data.runs);
    for (const run of runs) {
      expect(run.answered, who).toBe(plan.held);
      expect(run.startToReadyMs, who).toBeGreaterThan(0);
      expect(run.firstRequestMs, who).toBeGreaterThan(0);
      for (const m of [run.idle, run.peak, run.after]) {
        expect(m.rss, who).toBeGreaterThan(0);
        expect(m.anon + m.file, who).toBeLessThanOrEqual(m.rss + 1);
      }
      expect(run.peak.rss, who).toBeGreaterThanOrEqual(run.idle.rss);
    }
  }
  expect(r.data.rows.map((row) => row["figure"])).toEqual(
    expect.arrayContaining(["idle RSS MiB", "start to ready ms", "first request ms", "after / idle"]),
  );
  // The breakdown found the main isolate and the record writer's.
  for (const phase of ["idle", "after"]) {
    const b = r.data.breakdown[phase];
    expect(b?.["V8 heap, main thread MiB"], phase).toBeGreaterThan(0);
    expect(b?.["worker isolates"], phase).toBeGreaterThanOrEqual(1);
  }
}, 300_000);
