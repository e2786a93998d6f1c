// The operator benchmark's short mode (50 VeltrixConfigs) on the shared test env, so
// CI runs the same code path as bench/operator-scale.ts. Asserts that every config gets
// Ready and that the measurements are there; the numbers themselves go to docs/benchmarks.md.
import { afterAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { resultRow, runOperatorScale } from "../../bench/operator-scale.ts";
import { printTable } from "../../bench/lib/report.ts";
import { createNamespace, natsUrl, tempDir } from "../harness/env.ts";

describe("bench/operator-scale.ts --short (50 configs)", () => {
  let rows: ReturnType<typeof resultRow>[] = [];
  afterAll(() => printTable(rows));

  it("gets 50 VeltrixConfigs Ready and reports time, RSS and API requests", async () => {
    const namespace = await createNamespace("op-bench");
    const r = await runOperatorScale({
      kubeconfigPath: inject("kubeconfigPath"),
      natsUrl: natsUrl(),
      count: 50,
      dir: tempDir("op-bench"),
      namespace,
      timeoutMs: 90_000,
    });
    rows = [resultRow(r)];
    expect(r.count).toBe(50);
    expect(r.allReadySeconds).toBeGreaterThan(0);
    expect(r.rssPeakMiB).toBeGreaterThanOrEqual(r.rssIdleMiB);
    expect(r.reconciles).toBeGreaterThanOrEqual(50);
    // Every config needs at least its finalizer, ConfigMap and status writes.
    expect(r.apiRequests).toBeGreaterThanOrEqual(150);
    expect(r.apiRequestsByVerb["PATCH"], JSON.stringify(r.apiRequestsByVerb)).toBeGreaterThanOrEqual(100);
  });
});
