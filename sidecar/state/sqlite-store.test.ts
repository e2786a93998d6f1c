import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { RecordReader } from "./record-reader.ts";
import { SqliteRequestStore } from "./sqlite-store.ts";
import type { NewRequest } from "./store.ts";

const dirs: string[] = [];
function storePath(): string {
  const d = mkdtempSync(join(tmpdir(), "vx-store-"));
  dirs.push(d);
  return join(d, "requests.db");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Polls `check` until true (the test's timeout turns a condition that never comes into a failure). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(5);
}

/** One turn of the event loop: timers due now, I/O, then this. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function request(id: string, extra: Partial<NewRequest> = {}): NewRequest {
  return {
    id,
    revision: "v",
    configHash: "h",
    mode: "direct",
    method: "GET",
    path: "/",
    receivedAt: 1,
    ...extra,
  };
}

describe("SqliteRequestStore (real SQLite file, writer thread)", () => {
  it("records a request through its states and keeps the resolved config by hash", async () => {
    const path = storePath();
    const store = new SqliteRequestStore(path);
    store.putConfig("h1", "rev-1", '{"a":1}');
    store.admit(request("r1", { revision: "rev-1", configHash: "h1", path: "/x" }));
    store.update("r1", { state: "dispatched", at: 2 });
    store.update("r1", { state: "done", at: 3, status: 201 });
    const rec = await store.get("r1");
    expect(rec).toMatchObject({ state: "done", dispatchedAt: 2, finishedAt: 3, status: 201, attempt: 1 });
    expect(await store.getConfig("h1")).toBe('{"a":1}');
    await store.close();
    // Durable: another connection to the same file sees it.
    const again = new RecordReader(path);
    expect(again.get("r1")?.state).toBe("done");
    again.close();
  });

  it("holds a batch for flushDelayMs, but commits sooner when an acknowledgement waits on it", async () => {
    // An hour: the flush timer never fires during this test.
    const store = new SqliteRequestStore(storePath(), { flushDelayMs: 3_600_000, gatedFlushDelayMs: 20 });
    store.admit(request("plain"));
    await nextTurn();
    // Still waiting for company: an update a turn later folds into the same row...
    store.update("plain", { state: "dispatched", at: 2 });
    // ...and only the acknowledgement's shorter delay sends the batch.
    await new Promise<void>((resolve) => store.afterCommit(resolve));
    expect(store.written).toBe(1);
    expect(await store.get("plain")).toMatchObject({ state: "dispatched", dispatchedAt: 2 });
    await store.close();
  });

  it("folds a request's updates into its row while the batch waits: one statement, same record", async () => {
    const store = new SqliteRequestStore(storePath(), { flushDelayMs: 50 });
    store.admit(request("fold", { mode: "sync" }));
    store.update("fold", { state: "queued", at: 2 });
    store.update("fold", { state: "dispatched", at: 3, attempt: 1 });
    store.update("fold", { state: "done", at: 4, status: 200 });
    await store.flush();
    expect(store.written).toBe(1);
    expect(await store.get("fold")).toMatchObject({
      state: "done",
      receivedAt: 1,
      queuedAt: 2,
      dispatchedAt: 3,
      finishedAt: 4,
      status: 200,
      attempt: 1,
      error: null,
    });
    await store.close();
  });

  it("updates a row committed in an earlier batch (a redelivery on the same pod) without resetting it", async () => {
    const store = new SqliteRequestStore(storePath());
    store.admit(request("again", { mode: "async" }));
    store.update("again", { state: "dispatched", at: 2, attempt: 1 });
    store.update("again", { state: "queued", at: 3, attempt: 1, error: "VX_ERR_UPSTREAM_UNAVAILABLE" });
    await store.flush();
    // The executor admits it again on attempt 2; an untouched re-admit changes nothing...
    store.admit(request("again", { mode: "async", receivedAt: 99 }));
    await store.flush();
    expect(await store.get("again")).toMatchObject({ state: "queued", receivedAt: 1, attempt: 1 });
    // ...and its updates apply as UPDATEs would, keeping what they do not set.
    store.admit(request("again", { mode: "async", receivedAt: 99 }));
    store.update("again", { state: "dispatched", at: 5, attempt: 2 });
    store.update("again", { state: "done", at: 6, status: 200 });
    expect(await store.get("again")).toMatchObject({
      state: "done",
      receivedAt: 1,
      queuedAt: 3,
      dispatchedAt: 5,
      finishedAt: 6,
      attempt: 2,
      status: 200,
      error: "VX_ERR_UPSTREAM_UNAVAILABLE",
    });
    await store.close();
  });

  it("commits one batch of hundreds of rows, each with its own path, times and outcome", async () => {
    const store = new SqliteRequestStore(storePath(), { flushDelayMs: 1_000, maxBatch: 1_000 });
    for (let i = 0; i < 300; i++) {
      store.admit(request(`many-${i}`, { path: `/p/${i}`, receivedAt: 1_000 + i, dispatched: true }));
      if (i % 3 === 0) store.update(`many-${i}`, { state: "done", at: 2_000 + i, status: 200 + (i % 5) });
      if (i % 3 === 1) store.update(`many-${i}`, { state: "failed", at: 3_000 + i, error: `e${i}` });
    }
    // An update queued after the rows, for a row of this batch and one of no batch.
    store.update("many-2", { state: "done", at: 4_000, status: 204 });
    store.update("never-admitted", { state: "done", at: 4_001, status: 200 });
    await store.flush();
    expect(store.written).toBe(301);
    expect(await store.get("many-0")).toMatchObject({
      path: "/p/0",
      state: "done",
      receivedAt: 1_000,
      dispatchedAt: 1_000,
      finishedAt: 2_000,
      status: 200,
      error: null,
    });
    expect(await store.get("many-298")).toMatchObject({ path: "/p/298", state: "failed", error: "e298" });
    expect(await store.get("many-2")).toMatchObject({ state: "done", finishedAt: 4_000, status: 204 });
    expect(await store.get("many-299")).toMatchObject({
      state: "dispatched",
      status: null,
      finishedAt: null,
    });
    expect(await store.get("never-admitted")).toBeUndefined();
    await store.close();
  });

  it("batches writes until the flush timer, which sends them by itself", async () => {
    const store = new SqliteRequestStore(storePath(), { flushDelayMs: 5 });
    store.admit(request("r2", { mode: "sync" }));
    expect(store.written).toBe(0);
    // Nobody flushes or waits on a commit: only the timer can send the batch.
    await until(() => store.written === 1);
    // A write after that commit is a batch of its own.
    store.update("r2", { state: "done", at: 2, status: 200 });
    await until(() => store.written === 2);
    expect((await store.get("r2"))?.state).toBe("done");
    await store.close();
  });

  it("runs afterCommit callbacks only once the writes queued before them are committed", async () => {
    const path = storePath();
    const store = new SqliteRequestStore(path, { flushDelayMs: 5 });
    const reader = new RecordReader(path);
    store.admit(request("gated"));
    const seen = await new Promise<string | undefined>((resolve) =>
      store.afterCommit(() => resolve(reader.get("gated")?.state)),
    );
    expect(seen).toBe("received");
    reader.close();
    await store.close();
  });

  it("sweeps finished records older than the retention, keeps live ones", async () => {
    const store = new SqliteRequestStore(storePath());
    store.putConfig("h", "v", "{}");
    store.admit(request("old"));
    store.update("old", { state: "done", at: 10, status: 200 });
    store.admit(request("live", { receivedAt: 5 }));
    store.putOutcome("old", { status: 200, headers: { a: "b" }, body: Buffer.from("hi") }, 10);
    expect((await store.getOutcome("old"))?.body.toString()).toBe("hi");
    expect(await store.sweep(100, 0)).toBe(1);
    expect(await store.get("old")).toBeUndefined();
    expect(await store.getOutcome("old")).toBeUndefined();
    expect((await store.get("live"))?.state).toBe("received");
    expect(await store.getConfig("h")).toBe("{}");
    await store.close();
  });

  it("sweeps rows that never finish here once no stream can hold their request", async () => {
    const store = new SqliteRequestStore(storePath());
    store.putConfig("h", "v", "{}");
    // An async request handed to the stream, which another pod ran: its row stays queued.
    store.admit(request("handed-off", { receivedAt: 5 }));
    store.update("handed-off", { state: "queued", at: 6 });
    store.admit(request("recent", { receivedAt: 50 }));
    expect(await store.sweep(100, 10)).toBe(1);
    expect(await store.get("handed-off")).toBeUndefined();
    expect((await store.get("recent"))?.state).toBe("received");
    await store.close();
  });

  it("reports a failed commit and still runs the callbacks waiting on it", async () => {
    const errors: unknown[] = [];
    const path = storePath();
    const store = new SqliteRequestStore(path, { onError: (e) => errors.push(e) });
    await store.flush();
    // Another connection holds the write lock past the writer's 5 s busy timeout.
    const { DatabaseSync } = await import("node:sqlite");
    const blocker = new DatabaseSync(path);
    blocker.exec("BEGIN IMMEDIATE");
    store.admit(request("locked"));
    const ran = new Promise<boolean>((resolve) => store.afterCommit(() => resolve(true)));
    // The commit fails once the writer's busy timeout is over; only then is the lock let go.
    await until(() => errors.length > 0);
    blocker.exec("ROLLBACK");
    blocker.close();
    expect(await ran).toBe(true);
    expect(String(errors[0])).toMatch(/locked/);
    expect(await store.get("locked")).toBeUndefined(); // the batch was rolled back, not half-written
    // Not trusted until a commit succeeds again (readiness reads this).
    expect(store.problem()).toMatch(/the last commit failed: .*locked/);
    store.admit(request("after"));
    await store.flush();
    expect(store.problem()).toBeUndefined();
    await store.close();
  }, 15_000);

  it("keeps the WAL small from its writer thread and records readable", async () => {
    const path = storePath();
    const store = new SqliteRequestStore(path, { flushDelayMs: 1 });
    const body = "x".repeat(2_000);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 200; i++) {
        const id = `r${round}-${i}`;
        store.putConfig(`h${round}-${i}`, "rev", body);
        store.admit(request(id, { configHash: `h${round}-${i}` }));
        store.update(id, { state: "done", at: 2, status: 200 });
      }
      await store.flush(); // a commit per round
    }
    await store.flush();
    // SQLite's auto-checkpoint runs on the writer thread: without checkpoints the WAL
    // would hold every page written (22 MB here); with them the log is reused from near
    // its start. A size, not a time: no reader holds a snapshot here, so every
    // checkpoint can finish however slow the machine (a few MB, bounded by half).
    const wal = statSync(`${path}-wal`).size;
    expect(wal).toBeLessThan(11 * 1024 * 1024);
    expect((await store.get("r19-199"))?.state).toBe("done");
    await store.close();
    const again = new RecordReader(path);
    expect(again.get("r0-0")?.state).toBe("done");
    again.close();
  });
});
