// The sidecar benchmarks in their short mode, so CI (.ci/run → scripts/test.sh) runs
// them on every change. Speed is not asserted here (see docs/benchmarks.md); that they
// run end to end against the real processes and report every case is.
import { describe, expect, it } from "vitest";
import { benchResults, runBench } from "./run-bench.ts";

const results = (name: string): { short: boolean; data: unknown } => benchResults(name);

describe("sidecar benchmarks (short mode)", () => {
  it("store bench reports every binding", async () => {
    const { code, out } = await runBench("sidecar-store.ts", ["--short"]);
    expect(code, out).toBe(0);
    const r = results("sidecar-store");
    expect(r.short).toBe(true);
    const rows = r.data as { binding: string; "writes/s (median)": number }[];
    expect(rows.map((x) => x.binding)).toEqual(
      expect.arrayContaining([
        "SqliteRequestStore admit+done per request",
        "SqliteRequestStore admit, done in a later batch",
      ]),
    );
    for (const row of rows) expect(row["writes/s (median)"]).toBeGreaterThan(0);
  }, 120_000);

  it("proxy bench measures app, anchors and both sidecar modes", async () => {
    const { code, out } = await runBench("sidecar-proxy.ts", ["--short"]);
    expect(code, out).toBe(0);
    // wrk and HAProxy are installed by scripts/lib/setup.sh; a bench that could not
    // measure is a failure, not a pass.
    expect(out).not.toContain("wrk not installed");
    const data = results("sidecar-proxy").data as {
      rows: { target: string; "req/s": number; "cpu µs/req": number }[];
      openLoop: { rows: { target: string; "p99 ms": number; "2xx share": number }[] };
    };
    const rows = data.rows;
    expect(rows.map((x) => x.target)).toEqual(
      expect.arrayContaining(["haproxy maxconn 32", "sidecar direct", "sidecar sync"]),
    );
    for (const row of rows) {
      expect(row["req/s"], row.target).toBeGreaterThan(0);
      expect(row["cpu µs/req"], row.target).toBeGreaterThan(0);
    }
    // The open-loop table (vegeta at a fixed rate) covers the app, the anchors and the
    // sidecar. How many were answered 2xx at that rate is a figure the bench reports
    // (a busy machine sheds some), not something this test asserts.
    expect(data.openLoop.rows.map((x) => x.target)).toEqual(
      expect.arrayContaining(["app (no proxy)", "minimal undici proxy", "sidecar direct", "sidecar sync"]),
    );
    for (const row of data.openLoop.rows) {
      expect(row["p99 ms"], row.target).toBeGreaterThan(0);
      expect(row["2xx share"], row.target).toBeGreaterThan(0);
      expect(row["2xx share"], row.target).toBeLessThanOrEqual(1);
    }
  }, 300_000);

  it("memory bench reports RSS per held request for every case", async () => {
    const { code, out } = await runBench("sidecar-memory.ts", ["--short"]);
    expect(code, out).toBe(0);
    const rows = (results("sidecar-memory").data as { rows: { case: string; "KiB/held (all)": number }[] })
      .rows;
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(Number.isFinite(row["KiB/held (all)"]), row.case).toBe(true);
  }, 300_000);

  it("connection-sweep bench reads the CPU of every case with its requests open", async () => {
    const { code, out } = await runBench("connection-sweep.ts", ["--short"]);
    expect(code, out).toBe(0);
    const data = results("connection-sweep").data as {
      held: number;
      rows: { case: string; "requests open": number; "still held": number; "CPU ms/s (median)": number }[];
    };
    expect(data.rows.map((r) => r["requests open"])).toEqual([data.held, data.held, 0, data.held]);
    // Every request was still held, unanswered, when the CPU was read (a server that
    // answered or closed them would have been measured emptying, not holding).
    for (const row of data.rows) {
      expect(row["still held"], row.case).toBe(row["requests open"]);
      expect(row["CPU ms/s (median)"], row.case).toBeGreaterThanOrEqual(0);
    }
  }, 120_000);
});
