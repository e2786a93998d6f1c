import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { configBucket, configKey, sidecarStatusBucket, sidecarStatusKey } from "../../api/contract.ts";
import { configDocument } from "../../api/resolve.ts";
import { eventually, tempDir } from "../harness/env.ts";
import { startNats } from "../../devenv/nats.ts";
import { startApp, startSidecar, writeVeltrixConfig, type Sidecar } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function revisionOf(sc: Sidecar): Promise<string> {
  const res = await fetch(`${sc.admin}/v1/config`);
  return ((await res.json()) as { revision: string }).revision;
}

describe("config delivery over NATS KV (real nats-server)", () => {
  it("reaches two running sidecars, in-flight requests keep their revision, and a restart with NATS down boots from disk", async () => {
    const dir = tempDir("sidecar-kv");
    const nats = await startNats({ dir, name: "kv-nats" });
    cleanups.push(() => nats.stop());
    const app = await startApp(dir);
    cleanups.push(() => app.process.stop());
    const ref = { namespace: "team", name: "shop" };
    const spec1 = { config: { color: "blue" }, queue: { mode: "direct" as const } };
    const spec2 = { config: { color: "green" }, queue: { mode: "direct" as const } };
    const doc1 = configDocument(ref, spec1);
    const doc2 = configDocument(ref, spec2);
    const configFile = writeVeltrixConfig(dir, { ...ref, ...spec1 });

    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.drain());
    const kv = await new Kvm(nc).create(configBucket, { history: 5 });
    await kv.put(configKey(ref), JSON.stringify(doc1));

    const render = join(dir, "rendered.json");
    const a = await startSidecar({
      dir,
      name: "sc-a",
      configFile,
      appPort: app.port,
      natsUrl: nats.url,
      extraArgs: ["--render-file", render, "--namespace", "team"],
    });
    cleanups.push(() => a.process.stop());
    const b = await startSidecar({ dir, name: "sc-b", configFile, appPort: app.port, natsUrl: nats.url });
    cleanups.push(() => b.process.stop());
    expect(await revisionOf(a)).toBe(doc1.revision);

    // A request admitted under revision 1, still running when revision 2 arrives.
    const inflight = fetch(`${a.url}/slow?hold=1`, {
      headers: { "x-veltrix-request-id": "inflight-0001" },
    });
    await eventually("request at the app", async () =>
      (await app.stats()).inFlight === 1 ? true : undefined,
    );
    const etag = `"${doc1.revision}"`;
    const longPoll = fetch(`${a.admin}/v1/config?wait=10s`, { headers: { "if-none-match": etag } });
    await kv.put(configKey(ref), JSON.stringify(doc2));

    const changed = await longPoll;
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).toBe(`"${doc2.revision}"`);
    expect(((await changed.json()) as { config: Record<string, string> }).config).toEqual({ color: "green" });
    await eventually("b switched", async () => ((await revisionOf(b)) === doc2.revision ? true : undefined));
    // Held at the app until now: it finishes after revision 2 is in place.
    expect(await app.release()).toBe(1);

    const old = await inflight;
    expect(((await old.json()) as { revision: string }).revision).toBe(doc1.revision);
    const rec = (await (await fetch(`${a.admin}/v1/requests/inflight-0001`)).json()) as {
      record: { revision: string };
      config: { config: Record<string, string> };
    };
    expect(rec.record.revision).toBe(doc1.revision);
    expect(rec.config.config).toEqual({ color: "blue" });
    const fresh = (await (await fetch(`${a.url}/new`)).json()) as { revision: string };
    expect(fresh.revision).toBe(doc2.revision);
    expect(JSON.parse(readFileSync(render, "utf8"))).toMatchObject({
      revision: doc2.revision,
      config: { color: "green" },
    });

    // Both pods report the applied revision for the operator.
    const status = await new Kvm(nc).open(sidecarStatusBucket);
    await eventually("status reported", async () => {
      const e = await status.get(sidecarStatusKey(ref, "sc-b"));
      return e?.json<{ revision: string }>().revision === doc2.revision ? true : undefined;
    });

    // A new pod with no ConfigMap mounted and nothing on disk fetches the revision from KV.
    const c = await startSidecar({
      dir,
      name: "sc-c",
      configFile: join(dir, "absent.json"),
      appPort: app.port,
      natsUrl: nats.url,
      extraArgs: ["--namespace", "team", "--name", "shop"],
    });
    cleanups.push(() => c.process.stop());
    expect(await revisionOf(c)).toBe(doc2.revision);

    // NATS down: a restarted sidecar serves the last revision it applied, from disk.
    await nats.stop();
    await a.process.stop();
    await a.start();
    expect(await revisionOf(a)).toBe(doc2.revision);
    const served = (await (await fetch(`${a.url}/after-restart`)).json()) as { revision: string };
    expect(served.revision).toBe(doc2.revision);
    const metrics = await (await fetch(`${a.admin}/metrics`)).text();
    expect(metrics).toContain(`veltrix_sidecar_config_info{revision="${doc2.revision}"} 1`);

    // NATS back: the watches resume (b reconnected, a connects for the first time).
    await nats.start();
    const doc3 = configDocument(ref, { config: { color: "violet" }, queue: { mode: "direct" as const } });
    await eventually("kv writable again", async () => {
      await kv.put(configKey(ref), JSON.stringify(doc3));
      return true;
    });
    await eventually("a on revision 3", async () =>
      (await revisionOf(a)) === doc3.revision ? true : undefined,
    );
    await eventually("b on revision 3", async () =>
      (await revisionOf(b)) === doc3.revision ? true : undefined,
    );
  }, 90_000);
});

// The same promises through the queue: a request waits in JetStream while a new revision
// arrives, and runs with the revision it was admitted under; a restart with NATS down
// serves the last revision applied, from disk.
describe("config revisions in the queued modes (real nats-server)", () => {
  for (const mode of ["sync", "async"] as const) {
    it(`${mode}: a queued request keeps its revision, and a restart with NATS down boots from disk`, async () => {
      const dir = tempDir(`sidecar-pin-${mode}`);
      const nats = await startNats({ dir, name: `pin-${mode}-nats` });
      cleanups.push(() => nats.stop());
      const app = await startApp(dir);
      cleanups.push(() => app.process.stop());
      const ref = { namespace: "team", name: `pin-${mode}` };
      // One slot, long limits: the app holds the first request as long as the test needs,
      // and the second waits in the stream meanwhile.
      const queue = {
        mode,
        maxConcurrency: 1,
        maxWait: "60s",
        requestTimeout: "60s",
        onBrokerUnavailable: "direct" as const,
      };
      const doc1 = configDocument(ref, { config: { color: "blue" }, queue });
      const doc2 = configDocument(ref, { config: { color: "green" }, queue });
      const nc = await connect({ servers: nats.url });
      // close, not drain: NATS is stopped below, and a drain would wait for it.
      cleanups.push(() => nc.close());
      const kv = await new Kvm(nc).create(configBucket, { history: 5 });
      await kv.put(configKey(ref), JSON.stringify(doc1));
      const configFile = writeVeltrixConfig(dir, { ...ref, config: { color: "blue" }, queue });
      const sc = await startSidecar({
        dir,
        configFile,
        appPort: app.port,
        natsUrl: nats.url,
        extraArgs: ["--namespace", "team"],
      });
      cleanups.push(() => sc.process.stop());
      expect(await revisionOf(sc)).toBe(doc1.revision);
      // Ready comes before the queue is attached (onBrokerUnavailable: direct serves
      // meanwhile): wait for the queue, so the requests below go through JetStream.
      await eventually("queue attached", async () => {
        const r = (await (await fetch(`${sc.admin}/readyz`)).json()) as { queue?: string };
        return r.queue === "attached" ? true : undefined;
      });

      /** Sends a request; sync answers it, async accepts it (202) and its outcome answers it. */
      const send = async (path: string, id: string): Promise<() => Promise<{ revision: string }>> => {
        const headers = { "x-veltrix-request-id": id };
        if (mode === "sync") {
          const res = fetch(`${sc.url}${path}`, { headers });
          res.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
          return async () => (await (await res).json()) as { revision: string };
        }
        const res = await fetch(`${sc.url}${path}`, { method: "POST", headers });
        expect(res.status).toBe(202);
        return async () => {
          const done = await eventually(`${id} done`, async () => {
            const o = (await (await fetch(`${sc.url}/_veltrix/requests/${id}`)).json()) as {
              state: string;
              body?: string;
            };
            return o.state === "done" ? o : undefined;
          });
          return JSON.parse(Buffer.from(done.body ?? "", "base64").toString()) as { revision: string };
        };
      };
      const record = async (id: string) =>
        (await (await fetch(`${sc.admin}/v1/requests/${id}`)).json()) as {
          record?: { state: string; revision: string; mode: string };
          config?: { config: Record<string, string> };
        };

      const first = await send("/first?hold=1", `first-${mode}-0001`);
      await eventually("the first request held at the app", async () =>
        (await app.stats()).held === 1 ? true : undefined,
      );
      const pinnedId = `pinned-${mode}-0001`;
      const pinned = await send("/pinned", pinnedId);
      await eventually("the second request queued under revision 1", async () => {
        const r = await record(pinnedId);
        return r.record?.state === "queued" && r.record.revision === doc1.revision ? true : undefined;
      });

      await kv.put(configKey(ref), JSON.stringify(doc2));
      await eventually("revision 2 applied", async () =>
        (await revisionOf(sc)) === doc2.revision ? true : undefined,
      );
      expect(await app.release()).toBe(1);
      expect((await first()).revision).toBe(doc1.revision);
      // Run after revision 2 arrived, with the revision it was admitted under.
      expect((await pinned()).revision).toBe(doc1.revision);
      const rec = await record(pinnedId);
      expect(rec.record).toMatchObject({ state: "done", revision: doc1.revision, mode });
      expect((await record(`first-${mode}-0001`)).record?.mode).toBe(mode);
      expect(rec.config?.config).toEqual({ color: "blue" });
      const fresh = await send("/fresh", `fresh-${mode}-0001`);
      expect((await fresh()).revision).toBe(doc2.revision);

      // NATS down: restarted, the sidecar serves the last revision it applied, from disk
      // (the file it was started with still says revision 1).
      await nc.close();
      await nats.stop();
      await sc.process.stop();
      await sc.start();
      expect(await revisionOf(sc)).toBe(doc2.revision);
      const served = await fetch(`${sc.url}/after-restart`);
      expect(served.status).toBe(200);
      expect(served.headers.get("x-veltrix-config-revision")).toBe(doc2.revision);
    }, 90_000);
  }
});
