import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, headers as natsHeaders, type Msg } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  consumerName,
  deadLetterSubject,
  outcomeBucketName,
  outcomeKey,
  queueSubjectPrefix,
  streamName,
} from "../../api/contract.ts";
import { eventually, natsUrl, tempDir } from "../harness/env.ts";
import { startNats } from "../../devenv/nats.ts";
import {
  publishAsyncJob,
  startApp,
  startSidecar,
  writeVeltrixConfig,
  type App,
  type Sidecar,
} from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function app(dir: string, name: string): Promise<App> {
  const a = await startApp(dir, name);
  cleanups.push(() => a.process.stop());
  return a;
}

async function sidecar(opts: Parameters<typeof startSidecar>[0]): Promise<Sidecar> {
  const s = await startSidecar(opts);
  cleanups.push(() => s.process.stop());
  return s;
}

const uniq = (p: string): string => `${p}-${randomBytes(3).toString("hex")}`;

interface Outcome {
  state: string;
  status?: number;
  attempt?: number;
  body?: string;
  deadLettered?: boolean;
}

async function outcome(sc: Sidecar, id: string): Promise<Outcome | undefined> {
  const res = await fetch(`${sc.url}/_veltrix/requests/${id}`);
  return res.ok ? ((await res.json()) as Outcome) : undefined;
}

describe("sync mode over real JetStream", () => {
  it("two sidecars sharing one stream never exceed maxConcurrency at their apps; the overflow is shed", async () => {
    const dir = tempDir("sidecar-sync");
    const [appA, appB] = [await app(dir, "app-a"), await app(dir, "app-b")];
    const configFile = writeVeltrixConfig(dir, {
      name: uniq("sync"),
      queue: {
        mode: "sync",
        maxConcurrency: 2,
        maxQueueDepth: 30,
        maxWait: "2s",
        // Longer than any hold: the app answers when the test releases it.
        requestTimeout: "60s",
        overflow: { status: 503, retryAfter: "1s" },
      },
    });
    const a = await sidecar({ dir, name: "sc-a", configFile, appPort: appA.port, natsUrl: natsUrl() });
    const b = await sidecar({ dir, name: "sc-b", configFile, appPort: appB.port, natsUrl: natsUrl() });

    const one = await fetch(`${a.url}/hello?x=1`, { method: "POST", body: "payload" });
    expect(one.status).toBe(200);
    const echoed = (await one.json()) as { id: string; bodyBytes: number; attempt: string };
    expect(echoed.id).toBe(one.headers.get("x-veltrix-request-id"));
    expect(echoed.bodyBytes).toBe(7);

    await appA.reset();
    await appB.reset();
    type Answer = { status: number; retryAfter: string | null; error: string | null };
    const answered: Answer[] = [];
    // Both apps hold what reaches them until the test releases it.
    const fire = (sc: Sidecar): Promise<void>[] =>
      Array.from({ length: 40 }, async () => {
        const res = await fetch(`${sc.url}/work?hold=1`);
        await res.arrayBuffer();
        answered.push({
          status: res.status,
          retryAfter: res.headers.get("retry-after"),
          error: res.headers.get("x-veltrix-error"),
        });
      });
    const requests = [...fire(a), ...fire(b)];
    // The bound is reached at both apps (so a third request would be seen there)...
    await eventually("two held at each app", async () =>
      (await appA.stats()).held === 2 && (await appB.stats()).held === 2 ? true : undefined,
    );
    // ...and what does not fit in the stream is shed while they are held.
    await eventually("the overflow shed", () => Promise.resolve(answered.length > 0 ? true : undefined));
    await eventually("every request answered", async () => {
      await appA.release();
      await appB.release();
      return answered.length === 80 ? true : undefined;
    });
    await Promise.all(requests);
    const [sa, sb] = [await appA.stats(), await appB.stats()];
    expect(sa.maxInFlight).toBe(2);
    expect(sb.maxInFlight).toBe(2);
    const ok = answered.filter((r) => r.status === 200);
    const shed = answered.filter((r) => r.status === 503);
    expect(ok.length + shed.length).toBe(80);
    expect(ok.length).toBe(sa.count + sb.count);
    expect(shed.length).toBeGreaterThan(0);
    for (const r of shed) {
      expect(r.retryAfter).toBe("1");
      expect(["VX_ERR_QUEUE_FULL", "VX_ERR_QUEUE_TIMEOUT"]).toContain(r.error);
    }
    const metrics = await (await fetch(`${a.admin}/metrics`)).text();
    expect(metrics).toMatch(/veltrix_sidecar_shed_total\{reason="VX_ERR_QUEUE_(FULL|TIMEOUT)"\} [1-9]/);
  });

  it("SIGTERM answers every sync request it holds (executed here or by the other pod) before exiting", async () => {
    const dir = tempDir("sidecar-sync-term");
    const a0 = await app(dir, "app");
    const configFile = writeVeltrixConfig(dir, {
      name: uniq("synct"),
      queue: { mode: "sync", maxConcurrency: 2, maxWait: "20s", requestTimeout: "30s" },
    });
    const a = await sidecar({ dir, name: "sc-a", configFile, appPort: a0.port, natsUrl: natsUrl() });
    const b = await sidecar({ dir, name: "sc-b", configFile, appPort: a0.port, natsUrl: natsUrl() });
    const ids = Array.from({ length: 12 }, (_, i) => `term-sync-${String(i).padStart(4, "0")}`);
    const pending = ids.map((id) =>
      fetch(`${a.url}/job?hold=1`, { headers: { "x-veltrix-request-id": id } }).then(
        (r) => r.status,
        () => 0,
      ),
    );
    // All twelve are held by a (each has its record there) before it is told to stop: a
    // request still connecting at SIGTERM would rightly be refused.
    await eventually("every request held by a", async () => {
      for (const id of ids) if (!(await fetch(`${a.admin}/v1/requests/${id}`)).ok) return undefined;
      return true;
    });
    await eventually("work started", async () => ((await a0.stats()).held > 0 ? true : undefined));
    // Released only once a is draining: it must wait for every one it holds.
    const stopping = a.process.stop();
    let answered = 0;
    for (const p of pending) void p.then(() => answered++);
    await eventually("every request answered", async () => {
      await a0.release();
      return answered === pending.length ? true : undefined;
    });
    await stopping;
    expect(await Promise.all(pending)).toEqual(Array.from({ length: 12 }, () => 200));
    expect(b.process.running).toBe(true);
    await eventually("exit logged", () =>
      Promise.resolve(a.process.tail().includes("exited code=0") ? true : undefined),
    );
  }, 90_000);

  it("answers 413 for a body over maxBodyBytes before publishing, and 409 for a reused request id", async () => {
    const dir = tempDir("sidecar-sync-413");
    const a0 = await app(dir, "app");
    const configFile = writeVeltrixConfig(dir, {
      name: uniq("big"),
      queue: { mode: "sync", maxBodyBytes: 100 },
    });
    const sc = await sidecar({ dir, configFile, appPort: a0.port, natsUrl: natsUrl() });
    const res = await fetch(`${sc.url}/up`, { method: "POST", body: "x".repeat(500) });
    expect(res.status).toBe(413);
    expect((await a0.stats()).count).toBe(0);

    // A reused request id is never executed twice nor left hanging: the second gets 409.
    const same = { headers: { "x-veltrix-request-id": "same-id-0001" } };
    const statuses = await Promise.all([
      fetch(`${sc.url}/dup?delay=300`, same).then((r) => r.status),
      fetch(`${sc.url}/dup?delay=300`, same).then((r) => r.status),
    ]);
    expect(statuses.sort()).toEqual([200, 409]);
    expect((await fetch(`${sc.url}/dup`, same)).status).toBe(409);
    expect((await a0.stats()).seen["same-id-0001"]).toBe(1);
  });
});

describe("async mode over real JetStream", () => {
  it("202 → status URL → result, readable from any sidecar of the config", async () => {
    const dir = tempDir("sidecar-async");
    const a0 = await app(dir, "app");
    const configFile = writeVeltrixConfig(dir, {
      name: uniq("async"),
      queue: { mode: "async", maxConcurrency: 2 },
    });
    const a = await sidecar({ dir, name: "sc-a", configFile, appPort: a0.port, natsUrl: natsUrl() });
    const b = await sidecar({ dir, name: "sc-b", configFile, appPort: a0.port, natsUrl: natsUrl() });
    const res = await fetch(`${a.url}/report?delay=100`, { method: "POST", body: "data" });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { id: string; status: string };
    expect(res.headers.get("location")).toBe(accepted.status);
    const done = await eventually("outcome done", async () => {
      const o = await outcome(b, accepted.id);
      return o?.state === "done" ? o : undefined;
    });
    expect(done.status).toBe(200);
    const body = JSON.parse(Buffer.from(done.body ?? "", "base64").toString()) as {
      id: string;
      bodyBytes: number;
    };
    expect(body).toMatchObject({ id: accepted.id, bodyBytes: 4 });
  });

  it("never runs more than maxConcurrency at once at each pod's app", async () => {
    const dir = tempDir("sidecar-async-bound");
    const [appA, appB] = [await app(dir, "app-a"), await app(dir, "app-b")];
    const configFile = writeVeltrixConfig(dir, {
      name: uniq("abound"),
      // Longer than any hold: the apps answer when the test releases them.
      queue: { mode: "async", maxConcurrency: 2, requestTimeout: "60s" },
    });
    const a = await sidecar({ dir, name: "sc-a", configFile, appPort: appA.port, natsUrl: natsUrl() });
    const b = await sidecar({ dir, name: "sc-b", configFile, appPort: appB.port, natsUrl: natsUrl() });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${(i % 2 ? a : b).url}/job?hold=1`, { method: "POST" });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    // Each pod's executor has taken all it may (so a third would be seen at its app);
    // the other eight wait in the stream.
    await eventually("two held at each app", async () =>
      (await appA.stats()).held === 2 && (await appB.stats()).held === 2 ? true : undefined,
    );
    await eventually("every job done", async () => {
      await appA.release();
      await appB.release();
      for (const id of ids) if ((await outcome(a, id))?.state !== "done") return undefined;
      return true;
    });
    const [sa, sb] = [await appA.stats(), await appB.stats()];
    expect(sa.maxInFlight).toBe(2);
    expect(sb.maxInFlight).toBe(2);
    // Every job ran exactly once, on one pod or the other.
    for (const id of ids) expect((sa.seen[id] ?? 0) + (sb.seen[id] ?? 0)).toBe(1);
  }, 90_000);

  it("retries up to maxDeliver, then dead-letters", async () => {
    const dir = tempDir("sidecar-dlq");
    const a0 = await app(dir, "app");
    const configFile = writeVeltrixConfig(dir, {
      name: uniq("dlq"),
      queue: { mode: "async", maxDeliver: 2 },
    });
    const sc = await sidecar({ dir, configFile, appPort: a0.port, natsUrl: natsUrl() });
    const res = await fetch(`${sc.url}/boom?crash=1`, { method: "POST" });
    const { id } = (await res.json()) as { id: string };
    const dead = await eventually("dead-lettered", async () => {
      const o = await outcome(sc, id);
      return o?.state === "expired" ? o : undefined;
    });
    expect(dead.deadLettered).toBe(true);
    expect((await a0.stats()).seen[id]).toBe(2);
  });

  it("a message on the queue that no sidecar published is dead-lettered, never run", async () => {
    const dir = tempDir("sidecar-malformed");
    const a0 = await app(dir, "app");
    const ref = { namespace: "default", name: uniq("malformed") };
    const configFile = writeVeltrixConfig(dir, { name: ref.name, queue: { mode: "async" } });
    await sidecar({ dir, configFile, appPort: a0.port, natsUrl: natsUrl() });
    const nc = await connect({ servers: natsUrl() });
    cleanups.push(() => nc.close());
    const dead: Msg[] = [];
    nc.subscribe(deadLetterSubject(ref), { callback: (_e, m) => void dead.push(m) });
    const js = jetstream(nc);
    const h = natsHeaders();
    h.set("Vx-Job", JSON.stringify({ v: 99, id: "x" }));
    await js.publish(`${queueSubjectPrefix(ref)}.async`, "not ours", { headers: h });
    await js.publish(`${queueSubjectPrefix(ref)}.sync`, "no header at all");
    await eventually("both dead-lettered", () => Promise.resolve(dead.length === 2 ? true : undefined));
    const why = dead.map((m) => [m.string(), m.headers?.get("Vx-Error")]).sort();
    expect(why).toEqual([
      ["no header at all", "malformed message: no Vx-Job header"],
      ["not ours", "malformed message: Vx-Job version 99, this sidecar reads 1"],
    ]);
    expect((await a0.stats()).count).toBe(0);
  });

  it("an async request delivered again after its outcome is final is acknowledged, never run twice", async () => {
    const dir = tempDir("sidecar-repeat");
    const a0 = await app(dir, "app");
    const ref = { namespace: "default", name: uniq("repeat") };
    const configFile = writeVeltrixConfig(dir, { name: ref.name, queue: { mode: "async" } });
    await sidecar({ dir, configFile, appPort: a0.port, natsUrl: natsUrl() });
    const nc = await connect({ servers: natsUrl() });
    cleanups.push(() => nc.close());
    // As after nats-server lost an ack: the outcome says done, the stream delivers it again.
    const outcomes = await new Kvm(nc).open(outcomeBucketName(ref));
    await outcomes.put(
      outcomeKey(ref, "ran-before"),
      JSON.stringify({ id: "ran-before", state: "done", attempt: 1 }),
    );
    for (const id of ["ran-before", "never-ran"]) await publishAsyncJob(nc, ref, id, "/job");
    const jsm = await jetstreamManager(nc);
    await eventually("both handled", async () => {
      const info = await jsm.consumers.info(streamName(ref), consumerName);
      const seen = (await a0.stats()).seen;
      return info.num_pending === 0 && info.num_ack_pending === 0 && seen["never-ran"] === 1
        ? seen
        : undefined;
    });
    expect((await a0.stats()).seen["ran-before"]).toBeUndefined();
  });

  it("a request survives kill -9 of the executing sidecar and completes once it is restarted", async () => {
    const dir = tempDir("sidecar-kill");
    const a0 = await app(dir, "app");
    const configFile = writeVeltrixConfig(dir, {
      name: uniq("kill"),
      queue: { mode: "async", maxConcurrency: 1, requestTimeout: "2s", maxDeliver: 3 },
    });
    const sc = await sidecar({ dir, configFile, appPort: a0.port, natsUrl: natsUrl() });
    // Held at the app: the first attempt cannot finish before the kill.
    const res = await fetch(`${sc.url}/job?hold=1`, { method: "POST" });
    const { id } = (await res.json()) as { id: string };
    await eventually("executing", async () => ((await a0.stats()).seen[id] === 1 ? true : undefined));
    await sc.process.kill();
    await sc.start();
    const done = await eventually(
      "completed after restart",
      async () => {
        await a0.release(); // the redelivered attempt
        const o = await outcome(sc, id);
        return o?.state === "done" ? o : undefined;
      },
      60_000,
    );
    expect(done.status).toBe(200);
    expect(done.attempt).toBeGreaterThanOrEqual(2);
    expect((await a0.stats()).seen[id]).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it("SIGTERM under load loses no acknowledged request", async () => {
    const dir = tempDir("sidecar-term-load");
    const a0 = await app(dir, "app");
    const configFile = writeVeltrixConfig(dir, {
      name: uniq("term"),
      queue: { mode: "async", maxConcurrency: 2, requestTimeout: "3s" },
    });
    const a = await sidecar({ dir, name: "sc-a", configFile, appPort: a0.port, natsUrl: natsUrl() });
    const b = await sidecar({ dir, name: "sc-b", configFile, appPort: a0.port, natsUrl: natsUrl() });
    const ids: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < 30; i++) {
        const r = await fetch(`${a.url}/job?delay=200`, { method: "POST" }).catch(() => undefined);
        if (r?.status === 202) ids.push(((await r.json()) as { id: string }).id);
        else await r?.arrayBuffer();
      }
    })();
    await eventually("some accepted", () => Promise.resolve(ids.length >= 10 ? true : undefined));
    await a.process.stop();
    await sending;
    await eventually("exit logged", () =>
      Promise.resolve(a.process.tail().includes("exited code=0") ? true : undefined),
    );
    expect(ids.length).toBeGreaterThanOrEqual(10);
    await eventually(
      "every acknowledged request done",
      async () => {
        for (const id of ids) if ((await outcome(b, id))?.state !== "done") return undefined;
        return true;
      },
      60_000,
    );
    const seen = (await a0.stats()).seen;
    for (const id of ids) expect(seen[id]).toBeGreaterThanOrEqual(1);
  }, 90_000);
});

describe("broker unavailable", () => {
  it("fails fast or falls back to direct per queue.onBrokerUnavailable, and says so in /readyz and to the kubelet", async () => {
    const dir = tempDir("sidecar-nonats");
    const nats = await startNats({ dir, name: "own-nats" });
    cleanups.push(() => nats.stop());
    const a0 = await app(dir, "app");
    const failFile = writeVeltrixConfig(
      dir,
      { name: "fail", queue: { mode: "sync", onBrokerUnavailable: "fail" } },
      "f.yaml",
    );
    const directFile = writeVeltrixConfig(
      dir,
      { name: "fallback", queue: { mode: "sync", onBrokerUnavailable: "direct" } },
      "d.yaml",
    );
    const f = await sidecar({
      dir,
      name: "sc-fail",
      configFile: failFile,
      appPort: a0.port,
      natsUrl: nats.url,
    });
    const d = await sidecar({
      dir,
      name: "sc-direct",
      configFile: directFile,
      appPort: a0.port,
      natsUrl: nats.url,
    });
    await eventually("attached", async () => {
      const r = (await (await fetch(`${f.admin}/readyz`)).json()) as { queue: string };
      return r.queue === "attached" ? true : undefined;
    });
    expect((await fetch(`${f.url}/x`)).status).toBe(200);
    // The kubelet's probes, on the proxy port (the admin API is on 127.0.0.1 only).
    const probe = async (sc: { url: string }, path: string): Promise<number> =>
      (await fetch(`${sc.url}${path}`)).status;
    expect(await probe(f, "/_veltrix/readyz")).toBe(200);
    await nats.stop();
    await eventually("fail mode not ready", async () =>
      (await fetch(`${f.admin}/readyz`)).status === 503 ? true : undefined,
    );
    const appCount = (await a0.stats()).count;
    expect(await probe(f, "/_veltrix/readyz")).toBe(503);
    expect(await probe(f, "/_veltrix/healthz")).toBe(200);
    expect(await probe(d, "/_veltrix/readyz")).toBe(200);
    expect((await a0.stats()).count, "probes are answered by the sidecar, never forwarded").toBe(appCount);
    const failed = await fetch(`${f.url}/x`);
    expect(failed.status).toBe(503);
    expect(failed.headers.get("x-veltrix-error")).toBe("VX_ERR_BROKER_UNAVAILABLE");
    const viaDirect = await fetch(`${d.url}/x`);
    expect(viaDirect.status).toBe(200);
    const ready = (await (await fetch(`${d.admin}/readyz`)).json()) as { ready: boolean; broker: string };
    expect(ready).toMatchObject({ ready: true, broker: "down" });
    await nats.start();
    await eventually("back to sync", async () =>
      (await fetch(`${f.url}/x`)).status === 200 ? true : undefined,
    );
    expect(await probe(f, "/_veltrix/readyz")).toBe(200);
  }, 90_000);
});
