import { describe, expect, it } from "vitest";
import { Controller, type ReconcileContext } from "./controller.ts";
import { TerminalError } from "./errors.ts";
import { createLogger } from "../../lib/log.ts";
import { createMetrics } from "./metrics.ts";
import type { Clock } from "./work-queue.ts";

// No sleeps: reconciles block on promises the test resolves, retries wait on a clock the
// test moves, and every wait is for a condition (the test's timeout ends a hang).

/** A clock the test moves by hand; `armed` counts the timers waiting on it. */
function manualClock(): Clock & { advance(ms: number): void; armed(): number } {
  let now = 0;
  const timers = new Set<{ at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const t = { at: now + ms, fn };
      timers.add(t);
      return t;
    },
    clearTimeout(h) {
      timers.delete(h as { at: number; fn: () => void });
    },
    advance(ms) {
      now += ms;
      for (const t of [...timers].sort((a, b) => a.at - b.at)) {
        if (t.at <= now) {
          timers.delete(t);
          t.fn();
        }
      }
    },
    armed: () => timers.size,
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}

function setup(
  reconcile: (key: string, ctx: ReconcileContext) => Promise<undefined | { requeueAfterMs?: number }>,
  opts: { workers?: number; clock?: Clock } = {},
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
    workers: opts.workers ?? 4,
    metrics,
    backoff: { baseDelayMs: 5 },
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  return { c, lines, metrics };
}

describe("Controller", () => {
  it("never reconciles one key on two workers at once, and catches up with changes", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const runs: ReturnType<typeof deferred>[] = [];
    let others = 0;
    const { c } = setup(async (key) => {
      if (key !== "ns/a") {
        others++;
        return undefined;
      }
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const gate = deferred();
      runs.push(gate);
      await gate.promise;
      inFlight--;
      return undefined;
    });
    c.start();
    c.enqueue("ns/a");
    await until(() => runs.length === 1);
    // Nine changes while the first run is in progress, with three workers idle.
    for (let i = 0; i < 9; i++) c.enqueue("ns/a");
    runs[0]?.resolve();
    // The changes are not lost: one more run...
    await until(() => runs.length === 2);
    runs[1]?.resolve();
    // ...and only one: a key queued after it comes next (the queue is first in, first
    // out, and a third run would have been queued when the second ended).
    c.enqueue("ns/b");
    await until(() => others === 1);
    expect(runs.length).toBe(2);
    expect(maxInFlight).toBe(1);
    await c.stop();
  });

  it("exposes its error count at 0 from the start (a dashboard shows no errors, not no data)", async () => {
    const { c, metrics } = setup(() => Promise.resolve(undefined));
    expect(await metrics.registry.metrics()).not.toMatch(/^veltrix_operator_reconcile_errors_total\{/m);
    c.start();
    expect(await metrics.registry.metrics()).toMatch(
      /^veltrix_operator_reconcile_errors_total\{controller="[^"]+"\} 0$/m,
    );
    await c.stop();
  });

  it("retries errors with backoff, logs with a reconcile id, and does not retry TerminalError", async () => {
    const clock = manualClock();
    const calls: Record<string, number> = {};
    const { c, lines, metrics } = setup(
      (key) => {
        calls[key] = (calls[key] ?? 0) + 1;
        if (key === "ns/flaky" && (calls[key] ?? 0) < 3) return Promise.reject(new Error("boom"));
        if (key === "ns/bad") return Promise.reject(new TerminalError("cannot fix"));
        return Promise.resolve(undefined);
      },
      { clock },
    );
    const logged = (msg: string) => lines.filter((l) => l["msg"] === msg);
    c.start();
    c.enqueue("ns/flaky");
    c.enqueue("ns/bad");
    await until(() => logged("reconcile failed, will retry").length === 1);
    await until(() => logged("reconcile failed, not retrying").length === 1);
    // One retry is waiting (the flaky key's), none for the terminal error.
    expect(clock.armed()).toBe(1);
    clock.advance(5);
    await until(() => calls["ns/flaky"] === 2 && clock.armed() === 1);
    clock.advance(10);
    await until(() => calls["ns/flaky"] === 3);
    await c.stop();
    expect(calls["ns/bad"]).toBe(1);
    const failures = logged("reconcile failed, will retry");
    expect(failures).toHaveLength(2);
    expect(failures[0]?.["reconcileId"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(failures[0]?.["reconcileId"]).not.toBe(failures[1]?.["reconcileId"]);
    expect(failures[0]?.["err"]).toEqual({ message: "boom" });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/veltrix_operator_reconciles_total\{controller="test",result="error"\} 2/);
    expect(text).toMatch(/veltrix_operator_reconciles_total\{controller="test",result="terminal_error"\} 1/);
    expect(text).toMatch(/veltrix_operator_reconciles_total\{controller="test",result="success"\} 1/);
  });

  it("stops at once: queued keys are dropped and in-flight reconciles see the abort", async () => {
    const started: string[] = [];
    let aborted = false;
    // One worker: "ns/a" occupies it, so "ns/b" waits in the queue.
    const { c } = setup(
      async (key, ctx) => {
        started.push(key);
        // Ends only when the controller aborts it (stop() waits for it).
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        aborted = ctx.signal.aborted;
        return undefined;
      },
      { workers: 1 },
    );
    c.start();
    c.enqueue("ns/a");
    await until(() => started.length === 1);
    c.enqueue("ns/b");
    expect(c.queueLength).toBe(1);
    const stopping = c.stop();
    c.enqueue("ns/c");
    await stopping;
    // stop() waited for the worker, so nothing can start after this.
    expect(started).toEqual(["ns/a"]);
    expect(aborted).toBe(true);
  });
});
