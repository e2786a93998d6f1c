// The fault suite's scenarios: each injects one fault into a running rig (real
// processes, loopback only) while the load runs, and ends it; the suite drains and
// checks. `short` ones run in .ci/run; `npm run test:faults` runs them all.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { eventually } from "../harness/env.ts";
import type { Mode, Rig, RigOptions } from "./rig.ts";

export interface Scenario {
  name: string;
  modes: Mode[];
  short: boolean;
  /** Rig settings beyond the defaults. */
  rig?: Partial<RigOptions>;
  /** The app path every request asks for, or the i-th request's. */
  path?: string | ((i: number) => string);
  /** Injects the fault and ends it; the load runs throughout. */
  inject(rig: Rig): Promise<void>;
  /** A check that the fault did what it should (its positive control), after the drain. */
  control?(rig: Rig): void;
}

/** libfaketime, for a sidecar whose wall clock runs ahead (Debian's `faketime`). */
const faketimeLib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/** A Kubernetes-like container restart: gone, then back after `downMs`. */
async function restart(kill: () => Promise<void>, start: () => Promise<void>, downMs: number): Promise<void> {
  await kill();
  await sleep(downMs);
  await start();
}

export const scenarios: Scenario[] = [
  {
    name: "sidecar kill -9 under load (holding and executing)",
    modes: ["sync", "async"],
    short: true,
    path: "/work?delay=200",
    async inject(rig) {
      const b = rig.pods[1];
      // Requests are at B's app: B dies with work in flight, held and executing.
      await eventually("work in flight at pod b", async () =>
        (await b.app.stats()).inFlight > 0 ? true : undefined,
      );
      await restart(
        () => b.sidecar.process.kill(),
        () => b.sidecar.start(),
        1_000,
      );
    },
  },
  {
    name: "nats-server kill -9 and restart",
    modes: ["sync", "async"],
    short: true,
    path: "/work?delay=50",
    async inject(rig) {
      await restart(
        () => rig.nats.kill(),
        () => rig.nats.start(),
        1_000,
      );
    },
  },
  {
    name: "nats-server paused past the publish-ack wait",
    modes: ["sync", "async"],
    short: false,
    path: "/work?delay=50",
    async inject(rig) {
      const pid = rig.nats.process.pid;
      if (pid === undefined) throw new Error("nats-server has no pid");
      process.kill(pid, "SIGSTOP");
      // Past the 5 s publish-ack wait.
      await sleep(7_000);
      process.kill(pid, "SIGCONT");
    },
  },
  {
    name: "app crash and restart (2 s, as a container restart)",
    modes: ["async", "sync"],
    short: true,
    path: "/work?delay=100",
    async inject(rig) {
      const b = rig.pods[1];
      await eventually("work in flight at app b", async () =>
        (await b.app.stats()).inFlight > 0 ? true : undefined,
      );
      await restart(
        () => b.app.process.kill(),
        () => {
          b.app.process.start();
          return b.app.process.waitUntil(
            "app back",
            async () => (await fetch(`http://127.0.0.1:${b.app.port}/__stats`)).ok,
          );
        },
        2_000,
      );
    },
  },
  {
    name: "sidecar clock 45 s ahead of the other",
    modes: ["sync"],
    short: true,
    path: "/work?delay=20",
    rig: {
      sidecarBEnv: { LD_PRELOAD: faketimeLib, FAKETIME: "+45s", FAKETIME_DONT_FAKE_MONOTONIC: "1" },
    },
    async inject() {
      // The fault is there from the start; the load runs for a while.
      await sleep(3_000);
    },
    control(rig) {
      if (!existsSync(faketimeLib)) throw new Error(`${faketimeLib} missing (apt-get install faketime)`);
      // The skew took: pod b's sidecar stamps its log lines 45 s ahead.
      const times = readFileSync(join(rig.dir, "sidecar-b.log"), "utf8").match(/"time":"[^"]+"/g) ?? [];
      const last = Date.parse((times.at(-1) ?? "").slice(8, -1));
      if (!(last - Date.now() > 30_000))
        throw new Error(`sidecar b's clock is not ahead (last log line ${String(times.at(-1))})`);
      // And the skewed pod took part: its app ran requests.
      if (!rig.executions().some((e) => e.app === "b")) throw new Error("the skewed pod's app ran nothing");
      // Nothing shed: under this light load, a pod whose clock is ahead does not drop the
      // other's requests as expired (as it did when executors compared the holder's deadline).
      const unanswered = rig.answers.filter((a) => a.status !== 200);
      if (unanswered.length > 0)
        throw new Error(`${unanswered.length} requests not served, e.g. ${JSON.stringify(unanswered[0])}`);
    },
  },
  {
    name: "sidecar SIGTERM under load, then back",
    modes: ["sync", "async"],
    short: false,
    path: "/work?delay=200",
    async inject(rig) {
      const b = rig.pods[1];
      await restart(
        () => b.sidecar.process.stop(),
        () => b.sidecar.start(),
        500,
      );
    },
  },
  {
    name: "app slower than requestTimeout for some requests",
    modes: ["sync", "async"],
    short: false,
    // One in four takes 1.5 s against a 1 s requestTimeout: 504 (sync) or retried, then
    // dead-lettered (async); never run again behind the client's back.
    path: (i) => (i % 4 === 0 ? "/work?delay=1500" : "/work?delay=50"),
    rig: { requestTimeout: "1s", queue: { maxDeliver: 2, retryDelay: "200ms" } },
    async inject() {
      await sleep(3_000);
    },
  },
];
