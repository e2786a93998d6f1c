import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { Controller, type ReconcileContext } from "./controller.ts";
import { TerminalError } from "./errors.ts";
import { createLogger } from "../../lib/log.ts";
import { createMetrics } from "./metrics.ts";

function setup(
  reconcile: (key: string, ctx: ReconcileContext) => Promise<undefined | { requeueAfterMs?: number }>,
) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "debug",
    sink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const c = new Controller({
    name: "test",
    reconcile,
    log,
    workers: 4,
    metrics,
    backoff: { baseDelayMs: 5 },
  });
  return { c, lines, metrics };
}

describe("Controller", () => {
  it("never reconciles one key on two workers at once, and catches up with changes", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const { c } = setup(async () => {
      inFlight++;
      runs++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(20);
      inFlight--;
      return undefined;
    });
    c.start();
    for (let i = 0; i < 10; i++) {
      c.enqueue("ns/a");
      await sleep(3);
    }
    await sleep(100);
    await c.stop();
    expect(maxInFlight).toBe(1);
    expect(runs).toBeGreaterThanOrEqual(2); // the adds during the first run are not lost
    expect(runs).toBeLessThan(10); // ...but they are de-duplicated
  });

  it("retries errors with backoff, logs with a reconcile id, and does not retry TerminalError", async () => {
    const calls: Record<string, number> = {};
    const { c, lines, metrics } = setup((key) => {
      calls[key] = (calls[key] ?? 0) + 1;
      if (key === "ns/flaky" && (calls[key] ?? 0) < 3) return Promise.reject(new Error("boom"));
      if (key === "ns/bad") return Promise.reject(new TerminalError("cannot fix"));
      return Promise.resolve(undefined);
    });
    c.start();
    c.enqueue("ns/flaky");
    c.enqueue("ns/bad");
    await sleep(150);
    await c.stop();
    expect(calls["ns/flaky"]).toBe(3);
    expect(calls["ns/bad"]).toBe(1);
    const failures = lines.filter((l) => l["msg"] === "reconcile failed, will retry");
    expect(failures).toHaveLength(2);
    expect(failures[0]?.["reconcileId"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(failures[0]?.["reconcileId"]).not.toBe(failures[1]?.["reconcileId"]);
    expect(failures[0]?.["err"]).toEqual({ message: "boom" });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/veltrix_operator_reconciles_total\{controller="test",result="error"\} 2/);
    expect(text).toMatch(/veltrix_operator_reconciles_total\{controller="test",result="terminal_error"\} 1/);
  });

  it("stops at once: queued keys are dropped and in-flight reconciles see the abort", async () => {
    let aborted = false;
    let runs = 0;
    const { c } = setup(async (_key, ctx) => {
      runs++;
      await sleep(30);
      aborted = ctx.signal.aborted;
      return undefined;
    });
    c.start();
    c.enqueue("ns/a");
    await sleep(5);
    const stopping = c.stop();
    c.enqueue("ns/b");
    await stopping;
    expect(runs).toBe(1);
    expect(aborted).toBe(true);
  });
});
