// The request rows of one write batch, by column, while the event loop collects them.
// A row per request as a JS array cost a structured clone of 16 values on its way to the
// writer thread (~1 µs per request on the proxy's thread, 9 % of its JavaScript time in
// `direct`) and, for the up to 25 ms a batch waits, an array and three boxed timestamps
// that survived young-generation collections. Here times and numbers sit in typed arrays
// (one copy each when posted), the few strings every row repeats (revision, config
// hash, mode, method, state) are numbered once per batch, and only the id and the path
// are strings of their own.
import type { RowBatch } from "./record-schema.ts";
import type { NewRequest, RequestUpdate } from "./store.ts";

/** Per row in `text`: indexes into `strings` (0 = null). */
export const TextCol = { revision: 0, configHash: 1, mode: 2, method: 3, state: 4, error: 5 } as const;
export const textCols = 6;
/** Per row in `nums`: NaN = null. */
export const NumCol = {
  attempt: 0,
  receivedAt: 1,
  queuedAt: 2,
  dispatchedAt: 3,
  finishedAt: 4,
  status: 5,
} as const;
export const numCols = 6;

export class RowColumns {
  private n = 0;
  private readonly ids: string[] = [];
  private readonly paths: string[] = [];
  private readonly strings: string[] = [""];
  private readonly stringIndex = new Map<string, number>();
  // Grown by doubling up to `capacity`: a posted view carries its whole buffer along.
  private text: Uint16Array;
  private nums: Float64Array;
  private touched: Uint8Array;
  /** Row index by request id, for updates that fold into a row not yet posted. */
  private readonly byId = new Map<string, number>();

  /** The most rows a batch holds. */
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    const rows = Math.min(capacity, 64);
    this.text = new Uint16Array(rows * textCols);
    this.nums = new Float64Array(rows * numCols).fill(Number.NaN);
    this.touched = new Uint8Array(rows);
  }

  get size(): number {
    return this.n;
  }

  get full(): boolean {
    return this.n >= this.capacity;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Adds a request's row as admitted. The caller checks `has` and `full` first. */
  add(r: NewRequest): void {
    if (this.n === this.touched.length) this.grow();
    const i = this.n++;
    this.byId.set(r.id, i);
    this.ids.push(r.id);
    this.paths.push(r.path);
    const t = i * textCols;
    this.text[t + TextCol.revision] = this.intern(r.revision);
    this.text[t + TextCol.configHash] = this.intern(r.configHash);
    this.text[t + TextCol.mode] = this.intern(r.mode);
    this.text[t + TextCol.method] = this.intern(r.method);
    this.text[t + TextCol.state] = this.intern(r.dispatched ? "dispatched" : "received");
    const v = i * numCols;
    this.nums[v + NumCol.receivedAt] = r.receivedAt;
    if (r.dispatched) this.nums[v + NumCol.dispatchedAt] = r.receivedAt;
  }

  /** Applies an update to the row of `id` as the UPDATE statement would; false without one. */
  fold(id: string, c: RequestUpdate): boolean {
    const i = this.byId.get(id);
    if (i === undefined) return false;
    const t = i * textCols;
    const v = i * numCols;
    this.text[t + TextCol.state] = this.intern(c.state);
    if (c.attempt !== undefined) this.nums[v + NumCol.attempt] = c.attempt;
    if (c.status !== undefined) this.nums[v + NumCol.status] = c.status;
    if (c.error !== undefined) this.text[t + TextCol.error] = this.intern(c.error);
    if (c.state === "queued") this.nums[v + NumCol.queuedAt] = c.at;
    else if (c.state === "dispatched") this.nums[v + NumCol.dispatchedAt] = c.at;
    else if (c.state !== "received") this.nums[v + NumCol.finishedAt] = c.at;
    this.touched[i] = 1;
    return true;
  }

  /** The rows so far, for the writer thread (the typed arrays' buffers can be transferred). */
  batch(): RowBatch {
    const n = this.n;
    return {
      n,
      ids: this.ids,
      paths: this.paths,
      strings: this.strings,
      text: this.text.subarray(0, n * textCols),
      nums: this.nums.subarray(0, n * numCols),
      touched: this.touched.subarray(0, n),
    };
  }

  private grow(): void {
    const rows = Math.min(this.capacity, this.touched.length * 2);
    const text = new Uint16Array(rows * textCols);
    text.set(this.text);
    const nums = new Float64Array(rows * numCols).fill(Number.NaN);
    nums.set(this.nums);
    const touched = new Uint8Array(rows);
    touched.set(this.touched);
    this.text = text;
    this.nums = nums;
    this.touched = touched;
  }

  private intern(s: string): number {
    let k = this.stringIndex.get(s);
    if (k === undefined) {
      k = this.strings.push(s) - 1;
      this.stringIndex.set(s, k);
    }
    return k;
  }
}
