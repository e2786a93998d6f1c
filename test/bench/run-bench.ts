// Runs one bench/ script as the benches run (its own Node process, from the repository root)
// and collects its output, for the tests of the benches' short forms.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../devenv/tools.ts";

export function runBench(file: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "bench", file), ...args], { cwd: repoRoot });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });
}

/** bench/results/<name>.json as the bench wrote it. */
export function benchResults<T>(name: string): T {
  return JSON.parse(readFileSync(join(repoRoot, "bench", "results", `${name}.json`), "utf8")) as T;
}
