// What durability costs (docs/adr/0008-durability.md): the two settings that decide what
// an acknowledged request survives, each measured against its stronger form in the same
// run, runs interleaved (A B A B ...) so load drifts hit both alike; medians and spread.
//   - JetStream's sync_interval: nats-server's default (fsync every 2 min) against
//     `always` (fsync before every ack). The load is the holder's: publishes to a
//     work-queue stream with a msgID, 64 in flight, each waiting for its ack.
//   - SQLite's synchronous for the request records: NORMAL (the sidecar's, WAL) against
//     FULL, with the sidecar's record writes (an insert and an update per request, in
//     transactions of 64).
//   scripts/with-node24 node bench/durability.ts [--quick]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNats, type NatsServer } from "../devenv/nats.ts";
import { median, printTable, short, writeResults, type Row } from "./lib/report.ts";

const runs = short ? 3 : 7;
const messages = short ? 2_000 : 20_000;
const records = short ? 5_000 : 50_000;
const inFlight = 64;
const body = Buffer.alloc(1024, 120);

/** Acknowledged publishes per second against `server`. */
async function publishRate(server: NatsServer, run: number): Promise<number> {
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = `DUR_${run}`;
    await jsm.streams.add({
      name: stream,
      subjects: [`dur.${run}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    const js = jetstream(nc);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < messages) {
          const i = next++;
          await js.publish(`dur.${run}.sync`, body, { msgID: `m-${run}-${i}` });
        }
      }),
    );
    const rate = messages / ((performance.now() - t0) / 1000);
    await jsm.streams.delete(stream);
    return rate;
  } finally {
    await nc.close();
  }
}

/** Requests per second of record writes (insert + update, transactions of 64) at `synchronous`. */
function recordRate(synchronous: "NORMAL" | "FULL"): number {
  const dir = mkdtempSync(join(tmpdir(), "vx-durability-"));
  const db = new DatabaseSync(join(dir, "r.db"));
  db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${synchronous}`);
  db.exec("CREATE TABLE r (id TEXT PRIMARY KEY, state TEXT, at INTEGER)");
  const insert = db.prepare("INSERT INTO r (id, state, at) VALUES (?, 'dispatched', ?)");
  const update = db.prepare("UPDATE r SET state = 'done', at = ? WHERE id = ?");
  const t0 = performance.now();
  for (let i = 0; i < records; i += 64) {
    db.exec("BEGIN");
    for (let j = i; j < i + 64 && j < records; j++) insert.run(`req-${j}`, j);
    db.exec("COMMIT");
    db.exec("BEGIN");
    for (let j = i; j < i + 64 && j < records; j++) update.run(j + 1, `req-${j}`);
    db.exec("COMMIT");
  }
  const rate = records / ((performance.now() - t0) / 1000);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

function summary(setting: string, value: string, rates: number[], base: number): Row {
  const sorted = [...rates].sort((a, b) => a - b);
  return {
    setting,
    value,
    "median /s": Math.round(median(rates)),
    "min /s": Math.round(sorted[0] ?? 0),
    "max /s": Math.round(sorted.at(-1) ?? 0),
    "x default": Number((median(rates) / base).toFixed(2)),
  };
}

const dir = mkdtempSync(join(tmpdir(), "vx-durability-nats-"));
const servers = {
  default: await startNats({ dir, name: "nats-default" }),
  always: await startNats({ dir, name: "nats-always", jetstreamConfig: "sync_interval: always" }),
};
const rates: Record<"default" | "always" | "NORMAL" | "FULL", number[]> = {
  default: [],
  always: [],
  NORMAL: [],
  FULL: [],
};
try {
  for (let run = 0; run < runs; run++) {
    rates.default.push(await publishRate(servers.default, run));
    rates.always.push(await publishRate(servers.always, run));
    rates.NORMAL.push(recordRate("NORMAL"));
    rates.FULL.push(recordRate("FULL"));
  }
} finally {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}
const rows = [
  summary("JetStream sync_interval (acked publishes)", "default (2m)", rates.default, median(rates.default)),
  summary("JetStream sync_interval (acked publishes)", "always", rates.always, median(rates.default)),
  summary("SQLite synchronous (record writes)", "NORMAL (sidecar)", rates.NORMAL, median(rates.NORMAL)),
  summary("SQLite synchronous (record writes)", "FULL", rates.FULL, median(rates.NORMAL)),
];
printTable(rows);
console.log(
  `${runs} interleaved runs; load average ${(await import("node:os"))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
writeResults("durability", { runs, messages, records, rows, rates });
