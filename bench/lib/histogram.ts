// A log-linear latency histogram in µs (32 sub-buckets per power of two: ≤ 3 % error),
// cheap to record into and to merge across load-generator processes.
const sub = 32;
const size = 40 * sub;

export class Histogram {
  counts = new Float64Array(size);
  count = 0;
  sumUs = 0;
  maxUs = 0;

  record(us: number): void {
    const v = Math.max(1, Math.round(us));
    const e = 31 - Math.clz32(v);
    const idx = e < 5 ? v : (e - 4) * sub + ((v >>> (e - 5)) & (sub - 1));
    const i = Math.min(size - 1, idx);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** Lower bound of bucket `idx` in µs (the inverse of `record`'s index). */
  static value(idx: number): number {
    if (idx < sub * 2 && idx < 32) return idx;
    const e = Math.floor(idx / sub) + 4;
    return (1 << e) + (idx % sub) * (1 << (e - 5));
  }

  merge(o: { counts: ArrayLike<number>; count: number; sumUs: number; maxUs: number }): void {
    for (let i = 0; i < size; i++) this.counts[i] = (this.counts[i] ?? 0) + (o.counts[i] ?? 0);
    this.count += o.count;
    this.sumUs += o.sumUs;
    this.maxUs = Math.max(this.maxUs, o.maxUs);
  }

  percentileMs(p: number): number {
    if (this.count === 0) return Number.NaN;
    const want = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < size; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= want) return Math.min(Histogram.value(i + 1), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  meanMs(): number {
    return this.count ? this.sumUs / this.count / 1000 : Number.NaN;
  }

  toJSON(): { counts: number[]; count: number; sumUs: number; maxUs: number } {
    return { counts: Array.from(this.counts), count: this.count, sumUs: this.sumUs, maxUs: this.maxUs };
  }
}
