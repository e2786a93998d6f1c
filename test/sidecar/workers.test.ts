import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { eventually, tempDir } from "../harness/env.ts";
import { startNats } from "../../devenv/nats.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

describe("sidecar with --workers 2 (real processes, each binding the proxy port)", () => {
  it("serves through both workers; the primary's admin API answers for all of them; SIGTERM drains all", async () => {
    const dir = tempDir("sidecar-workers");
    const app = await startApp(dir);
    const configFile = writeVeltrixConfig(dir, {
      name: "multi",
      queue: { mode: "direct", maxConcurrency: 4 },
    });
    const sc = await startSidecar({ dir, configFile, appPort: app.port, extraArgs: ["--workers", "2"] });
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `multi-req-${String(i).padStart(4, "0")}`);
      // Fresh connections so the cluster spreads them over both workers.
      const statuses = await Promise.all(
        ids.map(async (id) => {
          const res = await fetch(`${sc.url}/w?delay=20`, {
            headers: { "x-veltrix-request-id": id, connection: "close" },
          });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      // At once, no retry: the primary has each worker commit its queued records first.
      const found = await Promise.all(
        ids.map(async (id) => {
          const r = await fetch(`${sc.admin}/v1/requests/${id}`);
          return r.ok ? ((await r.json()) as { record: { state: string } }).record.state : `HTTP ${r.status}`;
        }),
      );
      expect(found.every((s) => s === "done")).toBe(true);
      const metrics = await (await fetch(`${sc.admin}/metrics`)).text();
      const done = /veltrix_sidecar_requests_total\{mode="direct",outcome="done"\} (\d+)/.exec(metrics);
      expect(Number(done?.[1])).toBe(40);
      // Both workers took requests: each one's record file has rows.
      for (const n of [1, 2]) {
        const db = new DatabaseSync(join(sc.dataDir, `requests-${n}.db`), { readOnly: true });
        const row = db.prepare("SELECT count(*) AS n FROM requests").get();
        db.close();
        expect(Number(row?.["n"])).toBeGreaterThan(0);
      }
      const ready = (await (await fetch(`${sc.admin}/readyz`)).json()) as { ready: boolean; workers: number };
      expect(ready).toMatchObject({ ready: true, workers: 2 });

      // maxConcurrency is per pod: two workers split 4 slots, so the app never sees more
      // than 4 at once however the connections spread over the workers. The app holds
      // them until released: the bound is reached (so a fifth would be seen), never passed.
      await app.reset();
      const burst = Array.from({ length: 24 }, (_, i) =>
        fetch(`${sc.url}/burst?hold=1`, {
          headers: { "x-veltrix-request-id": `burst-${i}`, connection: "close" },
        }).then(async (r) => (await r.arrayBuffer(), r.status)),
      );
      await eventually("4 held at the app", async () => ((await app.stats()).held === 4 ? true : undefined));
      let answered = 0;
      for (const b of burst) void b.then(() => answered++);
      await eventually("the burst answered", async () => {
        await app.release();
        return answered === burst.length ? true : undefined;
      });
      const burstStatuses = await Promise.all(burst);
      expect(burstStatuses.filter((s) => s === 200).length).toBeGreaterThan(0);
      expect((await app.stats()).maxInFlight).toBe(4);

      // SIGTERM once the four are held by the sidecar (each has its record): each is
      // answered, released only after the sidecar began draining.
      const termIds = [0, 1, 2, 3].map((i) => `term-w-${String(i).padStart(4, "0")}`);
      const inflight = termIds.map((id) =>
        fetch(`${sc.url}/long?hold=1`, { headers: { "x-veltrix-request-id": id } }).then(
          (r) => r.status,
          () => 0,
        ),
      );
      await eventually("every request held by the sidecar", async () => {
        for (const id of termIds) if (!(await fetch(`${sc.admin}/v1/requests/${id}`)).ok) return undefined;
        return true;
      });
      await eventually("at the app", async () => ((await app.stats()).inFlight >= 1 ? true : undefined));
      const stopping = sc.process.stop();
      let drained = 0;
      for (const p of inflight) void p.then(() => drained++);
      await eventually("the four answered", async () => {
        await app.release();
        return drained === inflight.length ? true : undefined;
      });
      expect(await Promise.all(inflight)).toEqual([200, 200, 200, 200]);
      await stopping;
      await eventually("exit logged", () =>
        Promise.resolve(sc.process.tail().includes("exited code=0") ? true : undefined),
      );
    } finally {
      await sc.process.stop();
      await app.process.stop();
    }
  }, 90_000);

  it("the primary's /readyz asks every worker: NATS down, a stopped worker, and recovery", async () => {
    const dir = tempDir("sidecar-workers-ready");
    const nats = await startNats({ dir, name: "own-nats" });
    const app = await startApp(dir);
    const configFile = writeVeltrixConfig(dir, {
      name: `multi-ready-${Date.now()}`,
      queue: { mode: "sync", onBrokerUnavailable: "fail", maxConcurrency: 4 },
    });
    const sc = await startSidecar({
      dir,
      configFile,
      appPort: app.port,
      natsUrl: nats.url,
      extraArgs: ["--workers", "2"],
    });
    interface Ready {
      ready: boolean;
      reasons: string[];
      perWorker: Record<string, { pid: number; ready: boolean; broker?: string; queue?: string }>;
    }
    const readyz = async (): Promise<{ status: number; body: Ready }> => {
      const r = await fetch(`${sc.admin}/readyz`);
      return { status: r.status, body: (await r.json()) as Ready };
    };
    // Statuses of `n` kubelet-style probes, each on a new connection (0: no answer in 1.5 s).
    const probes = (n: number): Promise<number[]> =>
      Promise.all(
        Array.from({ length: n }, () =>
          fetch(`${sc.url}/_veltrix/readyz`, {
            headers: { connection: "close" },
            signal: AbortSignal.timeout(1_500),
          }).then(
            (r) => r.status,
            () => 0,
          ),
        ),
      );
    let stopped: number | undefined;
    try {
      const up = await eventually("both workers attached", async () => {
        const r = await readyz();
        const attached = ["1", "2"].every((n) => r.body.perWorker[n]?.queue === "attached");
        return r.status === 200 && attached ? r.body : undefined;
      });
      expect(up).toMatchObject({ ready: true, reasons: [], perWorker: { 1: { ready: true, broker: "up" } } });

      await nats.stop();
      const down = await eventually("every worker reports the broker down", async () => {
        const r = await readyz();
        return r.status === 503 && r.body.reasons.length === 2 ? r.body : undefined;
      });
      expect(down.ready).toBe(false);
      for (const n of ["1", "2"]) {
        expect(down.reasons.some((why) => why.startsWith(`worker ${n}: broker unavailable`))).toBe(true);
        expect(down.perWorker[n]).toMatchObject({ ready: false, broker: "down", queue: "detached" });
      }

      await nats.start();
      const back = await eventually("ready again after NATS restarts", async () => {
        const r = await readyz();
        return r.status === 200 ? r.body : undefined;
      });
      expect(back.perWorker["2"]).toMatchObject({ ready: true, broker: "up", queue: "attached" });

      // A worker that cannot answer (stopped) counts as not ready, by name: the primary
      // answers without it (the test's own timeout would turn a hang into a failure).
      stopped = back.perWorker["2"]?.pid;
      if (stopped === undefined) throw new Error("no pid for worker 2");
      process.kill(stopped, "SIGSTOP");
      const silent = await readyz();
      expect(silent.status).toBe(503);
      expect(silent.body.reasons).toEqual(["worker 2: no readiness answer within 1000 ms"]);
      expect(silent.body.perWorker["1"]).toMatchObject({ ready: true });

      // The kubelet's probe on the proxy port reaches one worker or the other; the
      // healthy one answers for the pod, so no probe passes while worker 2 is stuck.
      await eventually("worker 1 answers the probe for the pod", async () =>
        (await probes(1))[0] === 503 ? true : undefined,
      );
      expect((await probes(8)).filter((s) => s === 200)).toEqual([]);

      process.kill(stopped, "SIGCONT");
      stopped = undefined;
      await eventually("ready after the worker resumes", async () =>
        (await readyz()).status === 200 ? true : undefined,
      );
      await eventually("every probe passes again", async () =>
        (await probes(8)).every((s) => s === 200) ? true : undefined,
      );
    } finally {
      if (stopped !== undefined) process.kill(stopped, "SIGCONT");
      await sc.process.stop();
      await app.process.stop();
      await nats.stop();
    }
  }, 90_000);

  it("holds 22,000 open requests over 2 workers, more than one process's 20,000 open files allow", async () => {
    const dir = tempDir("sidecar-workers-many");
    const app = await startApp(dir);
    // One slot per worker, taken by a request the app holds: every other request waits.
    const configFile = writeVeltrixConfig(dir, {
      name: "many",
      queue: {
        mode: "direct",
        maxConcurrency: 2,
        maxQueueDepth: 30_000,
        maxWait: "120s",
        requestTimeout: "120s",
      },
    });
    const sc = await startSidecar({ dir, configFile, appPort: app.port, extraArgs: ["--workers", "2"] });
    const port = new URL(sc.url).port;
    // The client side is spread over processes too (11,000 sockets each).
    const clients = ["127.0.0.2", "127.0.0.3"].map((source) =>
      spawn(process.execPath, [
        join(repoRoot, "test/sidecar/fixtures/hold-connections.ts"),
        port,
        "11000",
        "/hold?delay=110000",
        source,
        "16000",
      ]),
    );
    try {
      const opened = await Promise.all(
        clients.map(
          (c) =>
            new Promise<string>((resolve, reject) => {
              let out = "";
              c.stdout.on("data", (d: Buffer) => {
                out += d.toString();
                if (out.includes("\n")) resolve(out.trim());
              });
              c.on("exit", (code) => reject(new Error(`client exited (${code}): ${out}`)));
            }),
        ),
      );
      expect(opened).toEqual(["open 11000", "open 11000"]);
      // The kernel completes the handshakes at once; the primary then hands each connection
      // to a worker over IPC, which takes a while on a loaded machine.
      let seen = "nothing yet";
      const held = await eventually(
        "22,000 requests held across the workers",
        async () => {
          const m = await (await fetch(`${sc.admin}/metrics`)).text();
          const inFlight = Number(/^veltrix_sidecar_in_flight(?:\{[^}]*\})? (\d+)/m.exec(m)?.[1] ?? 0);
          const waiting = Number(/^veltrix_sidecar_queue_depth(?:\{[^}]*\})? (\d+)/m.exec(m)?.[1] ?? 0);
          seen = `${inFlight} in flight, ${waiting} waiting`;
          return inFlight + waiting === 22_000 ? { inFlight, waiting } : undefined;
        },
        150_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; last seen: ${seen}`);
      });
      expect(held.inFlight).toBe(2);
      // Each worker holds about half: neither could have held them all alone.
      const perWorker = (await (await fetch(`${sc.admin}/readyz`)).json()) as {
        perWorker: Record<string, { pid: number }>;
      };
      for (const w of Object.values(perWorker.perWorker)) {
        const fds = readdirSync(`/proc/${w.pid}/fd`).length;
        expect(fds).toBeGreaterThan(8_000);
        expect(fds).toBeLessThan(20_000);
      }
      // The app never saw more than the pod's limit.
      expect((await app.stats()).maxInFlight).toBeLessThanOrEqual(2);
    } finally {
      for (const c of clients) c.kill("SIGKILL");
      await sc.process.stop();
      await app.process.stop();
    }
  }, 240_000);
});
