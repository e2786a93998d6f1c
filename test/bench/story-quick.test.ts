// The story's experiment (bench/story.ts, issue 14) in its quick form, through the
// `npm run bench -- --quick` entry, so CI (.ci/run → scripts/test.sh) runs every scenario
// on every change. Speed and the bars are not asserted (a shared 2-core machine makes
// them noise here; docs/benchmarks.md has the full run): that every scenario runs end to
// end against the real processes and reports every contender with numbers is.
import { expect, it } from "vitest";
import { benchResults, runBench } from "./run-bench.ts";

type Row = Record<string, string | number | null>;
interface Quick {
  short: boolean;
  data: {
    capacity: { rows: Row[] };
    ramp: { contenders: Record<string, { rows: Row[] }> };
    wrk: { rows: Row[] };
    overload: { rows: Row[] };
    cpu: { contenders: Record<string, { rows: Row[] }> };
    memory: { rows: Row[] };
    openloop: { rows: Row[] };
  };
}

it("npm run bench -- --quick runs every scenario of the story and reports every contender", async () => {
  const { code, out } = await runBench("run.ts", ["--quick"]);
  expect(code, out).toBe(0);
  const r = benchResults<Quick>("story-quick");
  expect(r.short).toBe(true);
  const d = r.data;
  expect(d.capacity.rows.map((x) => x["design"])).toEqual(["old", "veltrix"]);
  for (const row of d.capacity.rows) expect(Number(row["capacity req/s"])).toBeGreaterThan(0);
  const kinds = ["old", "haproxy", "direct", "sync", "async"];
  for (const scenario of [d.ramp, d.cpu]) {
    expect(Object.keys(scenario.contenders)).toEqual(kinds);
    for (const [k, c] of Object.entries(scenario.contenders)) {
      expect(c.rows.length, k).toBeGreaterThan(0);
      // Whether a step met a bar is the report's business; that it measured is ours.
      for (const row of c.rows) {
        expect(Number(row["req/s"]), k).toBeGreaterThan(0);
        expect(Number.isFinite(Number(row["app cpu µs/req"])), k).toBe(true);
        expect(Number.isFinite(Number(row["generator cpu µs/req"])), k).toBe(true);
      }
    }
  }
  expect(d.wrk.rows.length).toBeGreaterThan(0);
  expect(new Set(d.overload.rows.map((x) => x["contender"])).size).toBe(5);
  for (const row of d.overload.rows) expect(Number(row["goodput req/s (app served)"])).toBeGreaterThan(0);
  expect(d.memory.rows).toHaveLength(7);
  for (const row of d.memory.rows) expect(Number.isFinite(Number(row["KiB per connection"]))).toBe(true);
  expect(d.openloop.rows.map((x) => x["target"])).toEqual(
    expect.arrayContaining(["app, no proxy", "minimal undici proxy", "Veltrix direct", "Veltrix sync"]),
  );
}, 420_000);
