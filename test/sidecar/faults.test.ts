// Answers under faults say what they know (docs/reliability.md): with nats-server paused
// (SIGSTOP) longer than the publish-ack wait, a request the stream may hold is never
// answered as a clean refusal. Every request has its own id; the app counts executions
// per id, and a small checker holds what each client was told against what ran.
import { randomBytes } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { consumerName, streamName } from "../../api/contract.ts";
import { startNats } from "../../devenv/nats.ts";
import { eventually, tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface Answer {
  id: string;
  status: number;
  code: string | null;
  outcome: string | null;
}

/** Refusals that promise the request never runs. */
const cleanRefusals = new Set([
  "VX_ERR_BROKER_UNAVAILABLE",
  "VX_ERR_BROKER_REFUSED",
  "VX_ERR_QUEUE_FULL",
  "VX_ERR_QUEUE_TIMEOUT",
  "VX_ERR_DRAINING",
]);

/** What ran against what each client was told: the promise's breaches, by kind. */
function check(answers: Answer[], executions: Record<string, number>) {
  const ran = (a: Answer): number => executions[a.id] ?? 0;
  return {
    lost: answers.filter((a) => (a.status === 200 || a.status === 202) && ran(a) === 0).map((a) => a.id),
    refusedButRan: answers.filter((a) => a.code && cleanRefusals.has(a.code) && ran(a) > 0).map((a) => a.id),
    duplicated: answers.filter((a) => ran(a) > 1).map((a) => a.id),
    indefiniteUnmarked: answers
      .filter((a) => a.status >= 500 && !(a.code && cleanRefusals.has(a.code)) && a.outcome !== "unknown")
      .filter((a) => a.code !== "VX_ERR_UPSTREAM_TIMEOUT")
      .map((a) => a.id),
  };
}

describe("faults: nats-server paused past the publish-ack wait", () => {
  it.each(["sync", "async"] as const)(
    "%s: no clean refusal for a request that runs, nothing acknowledged lost",
    async (mode) => {
      const dir = tempDir(`faults-pause-${mode}`);
      const nats = await startNats({ dir, name: `pause-${mode}-nats` });
      cleanups.push(() => nats.stop());
      const app = await startApp(dir);
      cleanups.push(() => app.process.stop());
      const configFile = writeVeltrixConfig(dir, {
        name: `pause-${mode}`,
        queue: { mode, maxConcurrency: 4, maxWait: "60s", requestTimeout: "60s" },
      });
      const sc = await startSidecar({ dir, configFile, appPort: app.port, natsUrl: nats.url });
      cleanups.push(() => sc.process.stop());
      const pid = nats.process.pid;
      if (pid === undefined) throw new Error("nats-server has no pid");

      const send = async (i: number): Promise<Answer> => {
        const id = `${mode}-${i}-${randomBytes(4).toString("hex")}`;
        const res = await fetch(`${sc.url}/work?i=${i}`, {
          method: "POST",
          body: `job ${i}`,
          headers: { "x-veltrix-request-id": id },
        });
        await res.arrayBuffer();
        return {
          id,
          status: res.status,
          code: res.headers.get("x-veltrix-error"),
          outcome: res.headers.get("x-veltrix-outcome"),
        };
      };

      // Paused: publishes reach the server's socket but get no ack within 5 s.
      process.kill(pid, "SIGSTOP");
      let resumed = false;
      const resume = (): void => {
        if (!resumed) process.kill(pid, "SIGCONT");
        resumed = true;
      };
      cleanups.push(() => Promise.resolve(resume()));
      const pending = Array.from({ length: 12 }, (_, i) => send(i));
      // The fault lasts past the 5 s ack wait: async answers come back at its end; sync
      // holders keep waiting, so they are given the same 7 s.
      if (mode === "async") await Promise.race(pending);
      else await new Promise((r) => setTimeout(r, 7_000));
      resume();
      const answers = await Promise.all(pending);

      if (mode === "async") {
        // The ack never came: not a 202, and not a refusal either.
        expect(answers.filter((a) => a.status === 504 && a.outcome === "unknown").length).toBeGreaterThan(0);
        for (const a of answers.filter((x) => x.outcome === "unknown")) {
          expect(a.code).toBe("VX_ERR_OUTCOME_UNKNOWN");
        }
      } else {
        // Sync holders kept waiting through the missing acks and got the app's answers.
        expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      }

      // Drained: everything that will run has run (the stream is empty, nothing held).
      const nc = await connect({ servers: nats.url });
      cleanups.push(() => nc.close());
      const jsm = await jetstreamManager(nc);
      const stream = streamName({ namespace: "default", name: `pause-${mode}` });
      await eventually(
        "the queue drained",
        async () => {
          const info = await jsm.consumers.info(stream, consumerName);
          const s = await app.stats();
          return info.num_pending === 0 && info.num_ack_pending === 0 && s.inFlight === 0 ? true : undefined;
        },
        60_000,
      );
      const stats = await app.stats();
      const verdict = check(answers, stats.seen);
      expect(verdict).toEqual({ lost: [], refusedButRan: [], duplicated: [], indefiniteUnmarked: [] });

      if (mode === "async") {
        // What an unknown answer pointed at tells the truth once NATS is back.
        for (const a of answers.filter((x) => x.outcome === "unknown")) {
          const ran = (stats.seen[a.id] ?? 0) > 0;
          const status = await eventually(`status of ${a.id}`, async () => {
            const res = await fetch(`${sc.url}/_veltrix/requests/${a.id}`);
            const body = (await res.json()) as { state?: string };
            return !ran || body.state === "done" ? body : undefined;
          });
          if (ran) expect(status.state).toBe("done");
        }
      }
    },
    120_000,
  );
});

describe("faults: the record store", () => {
  it("a record file deleted under a running sidecar makes it not ready, saying why", async () => {
    const dir = tempDir("faults-store-deleted");
    const app = await startApp(dir);
    cleanups.push(() => app.process.stop());
    const configFile = writeVeltrixConfig(dir, { name: "store-deleted", queue: { mode: "direct" } });
    const sc = await startSidecar({ dir, name: "sc-deleted", configFile, appPort: app.port });
    cleanups.push(() => sc.process.stop());
    const readyz = async (): Promise<{ status: number; reasons: string[] }> => {
      const res = await fetch(`${sc.admin}/readyz`);
      return { status: res.status, reasons: ((await res.json()) as { reasons: string[] }).reasons };
    };
    // Positive control: ready, and serving, with the file in place.
    expect((await readyz()).status).toBe(200);
    expect((await fetch(`${sc.url}/before`)).status).toBe(200);

    rmSync(join(dir, "sc-deleted-data", "requests-0.db"));
    const r = await eventually("readyz fails", async () => {
      const now = await readyz();
      return now.status === 503 ? now : undefined;
    });
    expect(r.reasons.join("\n")).toMatch(/record store: .*requests-0\.db was deleted or replaced while open/);
  });

  it("a full record volume shows in the store-error metric and readiness, and clients are still answered", async () => {
    const dir = tempDir("faults-store-full");
    const app = await startApp(dir);
    cleanups.push(() => app.process.stop());
    // The sidecar's data volume: a 1 MiB tmpfs, filled up below while the sidecar runs.
    const data = join(dir, "sc-full-data");
    mkdirSync(data, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "veltrix-test-full", data]);
    cleanups.push(() => {
      execFileSync("umount", ["-l", data]);
      return Promise.resolve();
    });
    const configFile = writeVeltrixConfig(dir, { name: "store-full", queue: { mode: "direct" } });
    const sc = await startSidecar({ dir, name: "sc-full", configFile, appPort: app.port });
    cleanups.push(() => sc.process.stop());
    const storeErrors = async (): Promise<number> => {
      const text = await (await fetch(`${sc.admin}/metrics`)).text();
      return Number(/^veltrix_sidecar_store_errors_total (\d+)/m.exec(text)?.[1] ?? "0");
    };
    // Positive control: ready, serving, no store error.
    expect((await fetch(`${sc.admin}/readyz`)).status).toBe(200);
    expect((await fetch(`${sc.url}/before`)).status).toBe(200);
    expect(await storeErrors()).toBe(0);

    // Fill what is left of the volume (dd stops at ENOSPC).
    spawnSync("dd", ["if=/dev/zero", `of=${join(data, "filler")}`, "bs=64k"]);
    let i = 0;
    const answers: number[] = [];
    await eventually("a failed commit", async () => {
      answers.push((await fetch(`${sc.url}/while-full-${i++}?n=${"x".repeat(512)}`)).status);
      return (await storeErrors()) > 0 ? true : undefined;
    });
    // Every client got an answer from the app, not a 5xx from the sidecar, and the pod says
    // why it should leave the Service.
    expect(answers.filter((s) => s !== 200)).toEqual([]);
    const r = await eventually("readyz fails", async () => {
      const res = await fetch(`${sc.admin}/readyz`);
      return res.status === 503 ? ((await res.json()) as { reasons: string[] }) : undefined;
    });
    expect(r.reasons.join("\n")).toMatch(/record store/);
  });

  it("a corrupt record file is moved aside at start and reported; the sidecar serves on a new one", async () => {
    const dir = tempDir("faults-store-corrupt");
    const app = await startApp(dir);
    cleanups.push(() => app.process.stop());
    const configFile = writeVeltrixConfig(dir, { name: "store-corrupt", queue: { mode: "direct" } });
    const dataDir = join(dir, "sc-corrupt-data");
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, "requests-0.db");
    writeFileSync(file, Buffer.concat([Buffer.from("SQLite format 3\0"), randomBytes(8_192)]));
    const sc = await startSidecar({ dir, name: "sc-corrupt", configFile, appPort: app.port });
    cleanups.push(() => sc.process.stop());
    expect((await fetch(`${sc.admin}/readyz`)).status).toBe(200);
    const res = await fetch(`${sc.url}/after`, { headers: { "x-veltrix-request-id": "after-corrupt-1" } });
    expect(res.status).toBe(200);
    expect(readdirSync(dataDir).filter((f) => f.startsWith("requests-0.db.corrupt-"))).toHaveLength(1);
    const record = await eventually("the record on the new file", async () => {
      const r = await fetch(`${sc.admin}/v1/requests/after-corrupt-1`);
      return r.ok ? ((await r.json()) as { record?: { state: string } }) : undefined;
    });
    expect(record.record?.state).toBe("done");
    const metrics = await (await fetch(`${sc.admin}/metrics`)).text();
    expect(metrics).toMatch(/veltrix_sidecar_store_errors_total 1/);
    await eventually("the log says so", () =>
      Promise.resolve(
        /record file failed its check; moved aside/.test(readFileSync(join(dir, "sc-corrupt.log"), "utf8"))
          ? true
          : undefined,
      ),
    );
  });
});
