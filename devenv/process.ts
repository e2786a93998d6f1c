// A child process the harness owns: output to a log file, readiness polling,
// graceful stop with a deadline, kill -9 for crash tests, and cleanup when the
// test process exits so no server outlives the run.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private exitCode: number | null | undefined;

  readonly spec: ProcessSpec;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  start(): void {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    const log = createWriteStream(this.spec.logFile, { flags: "a" });
    log.write(`\n--- ${new Date().toISOString()} ${this.spec.command} ${this.spec.args.join(" ")}\n`);
    const child = spawn(this.spec.command, this.spec.args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: this.spec.env ?? process.env,
      cwd: this.spec.cwd,
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.child = child;
    this.exitCode = undefined;
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once("error", (err) => {
        log.write(`spawn error: ${err.message}\n`);
        this.exitCode = null;
        live.delete(child);
        resolve(null);
      });
      child.once("exit", (code, signal) => {
        this.exitCode = code;
        live.delete(child);
        // Resolve once the exit line is on disk, so a test reading the log after
        // stop() or kill() sees it.
        log.end(`--- exited code=${code} signal=${signal}\n`, () => resolve(code));
      });
    });
  }

  /** Polls `probe` until it returns true; fails early if the process exits. */
  async waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`${this.spec.name} exited before ${what}; log: ${this.spec.logFile}\n${this.tail()}`);
      }
      if (await probe().catch(() => false)) return;
      await sleep(100);
    }
    throw new Error(
      `${this.spec.name} not ${what} within ${timeoutMs} ms; log: ${this.spec.logFile}\n${this.tail()}`,
    );
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running || !this.child) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** kill -9: the process gets no chance to clean up (crash tests). */
  async kill(): Promise<void> {
    if (!this.running || !this.child) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.spec.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
}
