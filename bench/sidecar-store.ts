// Store bindings for the sidecar's request records: node:sqlite (single inserts,
// batched transactions, and the SqliteRequestStore the sidecar uses, with its writer
// thread: requests per second, admit + done each, 200 000 requests) against keyv on
// node:sqlite (the config snapshots' store: WAL, synchronous=FULL). Medians of 3 runs.
//   scripts/with-node24 node bench/sidecar-store.ts [--short]
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import Keyv from "keyv";
import { v7 } from "uuid";
import { KeyvSqliteStore } from "../sidecar/state/keyv-sqlite-store.ts";
import { SqliteRequestStore } from "../sidecar/state/sqlite-store.ts";
import { median, printTable, short, writeResults, type Row } from "./lib/report.ts";

const n = short ? 2_000 : 20_000;
const keyvN = short ? 300 : 3_000;
const runs = 3;
// The request store runs long enough for its id index to outgrow SQLite's page cache,
// where the order of ids shows (random ids dirty a page per insert).
const requests = short ? 5_000 : 200_000;
const payload = JSON.stringify({ state: "received", revision: "r1", path: "/api/x", t: Date.now() });

function dir(): string {
  return mkdtempSync(join(tmpdir(), "vx-store-bench-"));
}

function sqliteInserts(batch: number): number {
  const d = dir();
  const db = new DatabaseSync(join(d, "s.db"));
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  db.exec("CREATE TABLE r (id TEXT PRIMARY KEY, body TEXT)");
  const ins = db.prepare("INSERT INTO r (id, body) VALUES (?, ?)");
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch) {
    db.exec("BEGIN");
    for (let j = i; j < i + batch && j < n; j++) ins.run(`req-${j}`, payload);
    db.exec("COMMIT");
  }
  const rate = n / ((performance.now() - t0) / 1000);
  db.close();
  rmSync(d, { recursive: true, force: true });
  return rate;
}

// `folded`: a request's admit and done reach the store before its batch leaves (one row
// statement); otherwise the done lands in the next batch (an INSERT, then an UPDATE).
// `newId`: time-ordered ids as the sidecar generates them, or random ones (v4, as a
// client may send).
async function requestStore(folded: boolean, newId: () => string): Promise<number> {
  const n = requests;
  const d = dir();
  const store = new SqliteRequestStore(join(d, "r.db"));
  store.putConfig("h1", "r1", payload);
  const t0 = performance.now();
  // 64 requests per tick, like 64 connections.
  for (let i = 0; i < n; i += 64) {
    const ids: string[] = [];
    for (let j = i; j < i + 64 && j < n; j++) {
      const id = newId();
      ids.push(id);
      store.admit({
        id,
        revision: "r1",
        configHash: "h1",
        mode: "direct",
        method: "GET",
        path: "/",
        receivedAt: Date.now(),
      });
    }
    if (!folded) void store.flush();
    for (const id of ids) store.update(id, { state: "done", at: Date.now(), status: 200 });
    await new Promise((r) => setImmediate(r));
  }
  await store.flush();
  const rate = n / ((performance.now() - t0) / 1000);
  await store.close();
  rmSync(d, { recursive: true, force: true });
  return rate;
}

async function keyvWrites(): Promise<number> {
  const d = dir();
  const kv = new Keyv({ store: new KeyvSqliteStore(join(d, "k.db")), throwOnErrors: true });
  const t0 = performance.now();
  for (let i = 0; i < keyvN; i++) await kv.set(`req-${i}`, payload);
  const rate = keyvN / ((performance.now() - t0) / 1000);
  await kv.disconnect();
  rmSync(d, { recursive: true, force: true });
  return rate;
}

const cases: [string, () => number | Promise<number>][] = [
  ["node:sqlite single insert (autocommit)", () => sqliteInserts(1)],
  ["node:sqlite batched x100", () => sqliteInserts(100)],
  ["SqliteRequestStore admit+done per request", () => requestStore(true, v7)],
  ["SqliteRequestStore admit, done in a later batch", () => requestStore(false, v7)],
  ["SqliteRequestStore admit+done, random (v4) ids", () => requestStore(true, randomUUID)],
  ["keyv on node:sqlite (WAL, synchronous=FULL)", () => keyvWrites()],
];

const rows: Row[] = [];
for (const [name, fn] of cases) {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) rates.push(await fn());
  rows.push({ binding: name, "writes/s (median)": Math.round(median(rates)), runs });
}
printTable(rows);
console.log(`results: ${writeResults("sidecar-store", rows)}`);
