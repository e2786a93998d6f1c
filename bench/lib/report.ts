// Shared by the bench/*.ts scripts: a plain-text table on stdout and the same rows
// as JSON in bench/results/<name>.json, so runs can be compared side by side.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type Row = Record<string, string | number>;

export const short =
  process.argv.includes("--short") || process.argv.includes("--quick") || process.env["BENCH_SHORT"] === "1";

export function printTable(rows: readonly Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0] ?? {});
  const cell = (v: string | number | undefined): string =>
    typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : (v ?? "");
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ");
  console.log(line(cols));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

export function writeResults(name: string, data: unknown): string {
  const dir = join(import.meta.dirname, "..", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({ name, at: new Date().toISOString(), node: process.version, short, data }, null, 2),
  );
  return file;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}
