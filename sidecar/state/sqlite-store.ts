// Request records in SQLite (node:sqlite). The event loop only queues writes: each
// request's admit and its later updates fold into one row while they wait, and every
// `flushDelayMs` the batch goes to a writer thread (record-writer.ts) that commits it in
// one transaction. Commits, and SQLite's WAL checkpoints, never stall the proxy. Reads
// wait for the writes queued before them, then read through a connection of their own.
import { existsSync, renameSync, statSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { RecordReader } from "./record-reader.ts";
import { OpCode, type FromWriter, type ToWriter, type WriteOp, type WriterData } from "./record-schema.ts";
import { RowColumns } from "./row-columns.ts";
import type { NewRequest, Outcome, RequestRecord, RequestStore, RequestUpdate } from "./store.ts";
import { logger } from "../log.ts";

const log = logger("store");

export interface SqliteStoreOptions {
  /** Post the batch when this many writes are pending, without waiting for the timer. */
  maxBatch?: number;
  /**
   * How long writes wait for company before the batch goes to the writer thread (ms).
   * 0 = end of this tick. A request that finishes within the wait costs one row write
   * instead of two, and each commit is at least one WAL page written.
   */
  flushDelayMs?: number;
  /**
   * The wait when an acknowledgement waits on the batch (`afterCommit`), if shorter. An
   * unacknowledged JetStream message still counts against the stream's maxQueueDepth.
   */
  gatedFlushDelayMs?: number;
  /** Called when a commit fails (the batch is rolled back and dropped) or the writer dies. */
  onError?: (err: unknown) => void;
}

// The writer is restarted (and sent the batches it had not answered) when it dies; a
// writer that dies this many times without committing anything is given up on.
const maxRestartsWithoutProgress = 3;

export class SqliteRequestStore implements RequestStore {
  readonly path: string;
  private readonly reader: RecordReader;
  private readonly maxBatch: number;
  private readonly flushDelayMs: number;
  private readonly gatedFlushDelayMs: number;
  private readonly onError: (err: unknown) => void;
  private worker: Worker | undefined;
  private restarts = 0;
  private closing = false;
  /** The batch being collected: request rows by column, and the other writes in order. */
  private rows: RowColumns;
  private ops: WriteOp[] = [];
  private opAfterRows: number[] = [];
  /** The pending timer that posts the batch, and when it fires (ms epoch). */
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private nextSeq = 1;
  /** Messages posted and not yet answered, by sequence number (re-sent to a new writer). */
  private readonly unanswered = new Map<number, ToWriter>();
  /** afterCommit callbacks in sequence order, each waiting for the batch `seq`. */
  private waiters: { seq: number; cb: () => void }[] = [];
  private readonly replies = new Map<number, (m: FromWriter) => void>();
  private count = 0;
  private readonly knownConfigs = new Set<string>();
  /** The file this store opened (device and inode), to notice it deleted or replaced. */
  private readonly opened: { dev: number; ino: number };
  /** The last commit's failure, until a commit succeeds again. */
  private failing: string | undefined;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.path = path;
    this.maxBatch = opts.maxBatch ?? 512;
    this.rows = new RowColumns(this.maxBatch);
    this.flushDelayMs = opts.flushDelayMs ?? 0;
    this.gatedFlushDelayMs = Math.min(this.flushDelayMs, opts.gatedFlushDelayMs ?? this.flushDelayMs);
    this.onError = opts.onError ?? ((err) => log.error("commit failed", { err }));
    setAside(path, this.onError);
    // Creates the file and tables before the writer starts, so reads work at once.
    this.reader = new RecordReader(path);
    const st = statSync(path);
    this.opened = { dev: st.dev, ino: st.ino };
    this.worker = this.startWriter();
  }

  problem(): string | undefined {
    if (this.failing !== undefined) return `record store: the last commit failed: ${this.failing}`;
    let st: { dev: number; ino: number } | undefined;
    try {
      st = statSync(this.path);
    } catch {
      st = undefined;
    }
    if (!st || st.dev !== this.opened.dev || st.ino !== this.opened.ino)
      return `record store: ${this.path} was deleted or replaced while open; restart the sidecar`;
    return undefined;
  }

  /** Statements committed since open (for metrics). */
  get written(): number {
    return this.count;
  }

  putConfig(hash: string, revision: string, json: string): void {
    if (this.knownConfigs.has(hash)) return;
    this.knownConfigs.add(hash);
    this.enqueue([OpCode.config, hash, revision, json, Date.now()]);
  }

  admit(r: NewRequest): void {
    if (this.rows.has(r.id)) return; // like INSERT OR IGNORE within the batch
    this.rows.add(r);
    this.queued();
  }

  update(id: string, c: RequestUpdate): void {
    if (this.rows.fold(id, c)) return;
    this.enqueue([OpCode.update, id, c.state, c.attempt ?? null, c.status ?? null, c.error ?? null, c.at]);
  }

  putOutcome(id: string, o: Outcome, at = Date.now()): void {
    this.enqueue([OpCode.outcome, id, o.status, JSON.stringify(o.headers), o.body, at]);
  }

  afterCommit(cb: () => void): void {
    this.waiters.push({ seq: this.nextSeq, cb });
    this.schedule(this.gatedFlushDelayMs);
  }

  /** Resolves once every write queued so far is committed (or its commit failed and was reported). */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      this.afterCommit(resolve);
      this.post();
    });
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    await this.flush();
    return this.reader.get(id);
  }

  async getConfig(hash: string): Promise<string | undefined> {
    await this.flush();
    return this.reader.getConfig(hash);
  }

  async getOutcome(id: string): Promise<Outcome | undefined> {
    await this.flush();
    return this.reader.getOutcome(id);
  }

  async sweep(olderThan: number, unfinishedBefore: number): Promise<number> {
    this.post();
    const reply = await this.request({ type: "sweep", seq: this.nextSeq++, olderThan, unfinishedBefore });
    this.knownConfigs.clear();
    if (reply.error !== undefined) throw new Error(`record sweep failed: ${reply.error}`);
    return reply.swept ?? 0;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    await this.flush();
    this.closing = true;
    if (this.worker) await this.request({ type: "close", seq: this.nextSeq++ });
    this.reader.close();
  }

  private enqueue(op: WriteOp): void {
    this.ops.push(op);
    this.opAfterRows.push(this.rows.size);
    this.queued();
  }

  private queued(): void {
    if (this.ops.length + this.rows.size >= this.maxBatch || this.rows.full) this.post();
    else this.schedule(this.flushDelayMs);
  }

  /** Posts the batch within `delayMs` (an earlier timer already set stands). */
  private schedule(delayMs: number): void {
    // A timer already set was set earlier with at most flushDelayMs: it fires no later,
    // so only a shorter (gated) delay needs the clock, once per acknowledgement.
    if (this.timer && delayMs >= this.flushDelayMs) return;
    const at = Date.now() + delayMs;
    if (this.timer) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, delayMs);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.post();
  };

  /** Sends the batch being collected to the writer. */
  private post(): void {
    const seq = this.nextSeq;
    const waited = this.waiters.length > 0 && this.waiters[this.waiters.length - 1]?.seq === seq;
    if (this.ops.length === 0 && this.rows.size === 0 && !waited) return;
    this.nextSeq++;
    const msg: ToWriter = {
      type: "batch",
      seq,
      rows: this.rows.batch(),
      ops: this.ops,
      opAfterRows: this.opAfterRows,
    };
    this.rows = new RowColumns(this.maxBatch);
    this.ops = [];
    this.opAfterRows = [];
    this.send(msg);
  }

  private request(msg: ToWriter): Promise<FromWriter> {
    return new Promise((resolve) => {
      this.replies.set(msg.seq, resolve);
      this.send(msg);
    });
  }

  private send(msg: ToWriter): void {
    this.unanswered.set(msg.seq, msg);
    if (!this.worker) return this.answer({ seq: msg.seq, written: 0, error: "record writer is not running" });
    this.worker.ref();
    this.worker.postMessage(msg);
  }

  private answer(m: FromWriter): void {
    this.unanswered.delete(m.seq);
    if (this.unanswered.size === 0) this.worker?.unref();
    this.count += m.written;
    if (m.error !== undefined) this.failing = m.error;
    else if (m.written > 0) this.failing = undefined;
    if (m.error !== undefined && !this.replies.has(m.seq)) this.onError(new Error(m.error));
    this.replies.get(m.seq)?.(m);
    this.replies.delete(m.seq);
    let done = 0;
    while (done < this.waiters.length && (this.waiters[done]?.seq ?? Infinity) <= m.seq) done++;
    if (done === 0) return;
    const ready = this.waiters.slice(0, done);
    this.waiters = this.waiters.slice(done);
    for (const w of ready) w.cb();
  }

  private startWriter(): Worker {
    // Beside this module: record-writer.ts in the source, or in the images the bundled
    // record-writer.js beside the bundled sidecar/main.js (scripts/bundle-entries.ts).
    const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
    const data: WriterData = { path: this.path };
    const worker = new Worker(new URL(`./record-writer.${ext}`, import.meta.url), { workerData: data });
    worker.unref();
    worker.on("message", (m: FromWriter) => {
      this.restarts = 0;
      this.answer(m);
    });
    worker.on("error", (err) => this.onError(err));
    worker.on("exit", () => this.onWriterExit(worker));
    return worker;
  }

  private onWriterExit(worker: Worker): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    if (this.closing && this.unanswered.size === 0) return;
    this.onError(new Error("record writer thread exited"));
    const resend = [...this.unanswered.values()].sort((a, b) => a.seq - b.seq);
    if (++this.restarts <= maxRestartsWithoutProgress) {
      this.worker = this.startWriter();
      for (const m of resend) this.send(m);
      return;
    }
    // Given up: answer everything as failed so acknowledgements and shutdown go on.
    for (const m of resend) this.answer({ seq: m.seq, written: 0, error: "record writer is not running" });
  }
}

/**
 * A record file that is not a sound SQLite database (a crash mid-write on a bad disk, a
 * file overwritten by hand) is moved aside with its WAL, reported, and a fresh one made:
 * records are a cache of what NATS and the app did, and a file that fails its check is
 * never trusted.
 */
function setAside(path: string, report: (err: unknown) => void): void {
  if (!existsSync(path) || statSync(path).size === 0) return;
  let problem: string | undefined;
  try {
    const db = new DatabaseSync(path, { readOnly: true, timeout: 5_000 });
    try {
      const row = db.prepare("PRAGMA quick_check(1)").get() as Record<string, unknown> | undefined;
      const verdict = row ? String(Object.values(row)[0]) : "no answer";
      if (verdict !== "ok") problem = verdict;
    } finally {
      db.close();
    }
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  if (problem === undefined) return;
  const aside = `${path}.corrupt-${Date.now()}`;
  for (const suffix of ["", "-wal", "-shm"])
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  log.error("record file failed its check; moved aside, starting a new one", { path, aside, problem });
  report(new Error(`record file ${path} failed its check (${problem}); moved to ${aside}`));
}
