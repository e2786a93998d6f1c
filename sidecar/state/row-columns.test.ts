import { describe, expect, it } from "vitest";
import { NumCol, numCols, RowColumns, TextCol, textCols } from "./row-columns.ts";
import type { NewRequest } from "./store.ts";

const admitted = (id: string, extra: Partial<NewRequest> = {}): NewRequest => ({
  id,
  revision: "rev",
  configHash: "rev+beta",
  mode: "direct",
  method: "GET",
  path: `/${id}`,
  receivedAt: 1_700_000_000_000,
  ...extra,
});

describe("RowColumns (a batch's request rows by column)", () => {
  it("keeps each row's strings by number and its times as numbers, NaN for none", () => {
    const rows = new RowColumns(512);
    rows.add(admitted("a", { dispatched: true }));
    rows.add(admitted("b", { method: "POST" }));
    const b = rows.batch();
    const text = (i: number, col: number): string | undefined => b.strings[b.text[i * textCols + col] ?? 0];
    const num = (i: number, col: number): number | undefined => b.nums[i * numCols + col];
    expect(b.n).toBe(2);
    expect(b.ids).toEqual(["a", "b"]);
    expect(b.paths).toEqual(["/a", "/b"]);
    expect([text(0, TextCol.revision), text(0, TextCol.configHash), text(0, TextCol.state)]).toEqual([
      "rev",
      "rev+beta",
      "dispatched",
    ]);
    expect([text(1, TextCol.method), text(1, TextCol.state)]).toEqual(["POST", "received"]);
    expect(b.text[1 * textCols + TextCol.error]).toBe(0); // null
    expect(num(0, NumCol.dispatchedAt)).toBe(1_700_000_000_000);
    expect(num(1, NumCol.dispatchedAt)).toBeNaN();
    // "rev", "rev+beta", "direct", "GET", "dispatched", "received", "POST" once each, after the null.
    expect(b.strings).toHaveLength(8);
  });

  it("folds updates into a row as the UPDATE statement would, and marks it touched", () => {
    const rows = new RowColumns(512);
    rows.add(admitted("a"));
    expect(rows.fold("a", { state: "queued", at: 5 })).toBe(true);
    expect(rows.fold("a", { state: "failed", at: 9, attempt: 2, error: "VX_ERR_UPSTREAM_TIMEOUT" })).toBe(
      true,
    );
    expect(rows.fold("elsewhere", { state: "done", at: 9 })).toBe(false);
    const b = rows.batch();
    expect(b.strings[b.text[TextCol.state] ?? 0]).toBe("failed");
    expect(b.strings[b.text[TextCol.error] ?? 0]).toBe("VX_ERR_UPSTREAM_TIMEOUT");
    expect([b.nums[NumCol.queuedAt], b.nums[NumCol.finishedAt], b.nums[NumCol.attempt]]).toEqual([5, 9, 2]);
    expect(b.touched[0]).toBe(1);
  });

  it("grows past its first 64 rows up to its capacity, keeping every row", () => {
    const rows = new RowColumns(200);
    for (let i = 0; i < 200; i++) rows.add(admitted(`r${i}`, { receivedAt: i }));
    expect(rows.full).toBe(true);
    rows.fold("r150", { state: "done", at: 1_000, status: 200 });
    const b = rows.batch();
    expect(b.n).toBe(200);
    expect(b.nums[199 * numCols + NumCol.receivedAt]).toBe(199);
    expect(b.nums[150 * numCols + NumCol.status]).toBe(200);
    expect(b.nums[10 * numCols + NumCol.status]).toBeNaN();
    expect(b.touched[150]).toBe(1);
  });
});
