// `veltrix status` and `veltrix request` against the real thing: the suite's kube-apiserver
// and nats-server, a real operator reconciling two VeltrixConfigs (one with a real sidecar
// and app in front of which one request succeeds and one is dead-lettered, one idle with
// messages put in its queue by hand), and a second operator whose NATS is down, so its
// config is not Ready. Table and JSON output, and every exit code.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream, type JsMsg } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { queueSubjectPrefix } from "../../api/contract.ts";
import { exitCodes, run } from "../../cli/main.ts";
import type { ConfigStatus } from "../../cli/status.ts";
import { installCrd } from "../../devenv/crd.ts";
import { freePort } from "../../devenv/ports.ts";
import { createNamespace, eventually, natsUrl, tempDir } from "../harness/env.ts";
import { createVxc, readyVxc, startOperator, type TestOperator } from "../operator/helpers.ts";
import { type App, type Sidecar, startApp, startSidecar, writeVeltrixConfig } from "../sidecar/helpers.ts";

async function veltrix(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(
    argv,
    {},
    {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      readFile: () => "",
    },
  );
  return { code, out, err };
}

/** The table's rows as cells, keyed by NAME (NAMESPACE/NAME with -A). */
function tableRows(out: string): Map<string, Record<string, string>> {
  const lines = out.split("\n");
  const head = lines[0]!;
  const starts = [...head.matchAll(/\S+( \S+)*/g)].map((m) => ({ name: m[0], at: m.index }));
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines.slice(1)) {
    if (line.trim() === "") break;
    const row: Record<string, string> = {};
    starts.forEach((s, i) => (row[s.name] = line.slice(s.at, starts[i + 1]?.at).trim()));
    rows.set(row.NAMESPACE ? `${row.NAMESPACE}/${row.NAME}` : row.NAME!, row);
  }
  return rows;
}

describe("veltrix status and request (real API server, NATS, operator, sidecar)", () => {
  let ns: string;
  let nsDown: string;
  let operator: TestOperator;
  let downOperator: TestOperator;
  let app: App;
  let sidecar: Sidecar;
  let nc: NatsConnection;
  let unacked: JsMsg;
  let doneId: string;
  let deadId: string;
  let kubeconfig: string;
  const revisions: Record<string, string> = {};

  beforeAll(async () => {
    await installCrd((await import("../harness/env.ts")).kubeConfig());
    kubeconfig = inject("kubeconfigPath");
    ns = await createNamespace("vx-status");
    nsDown = await createNamespace("vx-status-down");
    operator = await startOperator(ns, natsUrl());
    downOperator = await startOperator(nsDown, `nats://127.0.0.1:${await freePort()}`);
    const queue = { mode: "async", maxDeliver: 1, requestTimeout: "10m" } as const;
    await createVxc(ns, "orders", { config: { greeting: "hello" }, queue });
    await createVxc(ns, "idle", { queue });
    await createVxc(nsDown, "stranded", { queue });
    for (const name of ["orders", "idle"]) {
      const v = await eventually(`${name} Ready`, () => readyVxc(ns, name));
      revisions[name] = v.status!.revision!;
    }

    const dir = tempDir("cli-status");
    app = await startApp(dir);
    const configFile = writeVeltrixConfig(dir, { name: "orders", namespace: ns, queue });
    sidecar = await startSidecar({
      dir,
      configFile,
      appPort: app.port,
      natsUrl: natsUrl(),
      ensureStream: false,
    });
    // It boots from its file, then applies the operator's revision from NATS KV: requests
    // sent before that would run under the file's config.
    await eventually("the sidecar on the operator's revision", async () => {
      const r = (await (await fetch(`${sidecar.admin}/readyz`)).json()) as { revision?: string };
      return r.revision === revisions["orders"] ? true : undefined;
    });
    const accepted = async (path: string): Promise<string> => {
      const res = await fetch(`${sidecar.url}${path}`, { method: "POST", body: "order 1" });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    doneId = await accepted("/orders");
    deadId = await accepted("/orders?crash=1");
    // Both outcomes are final in the bucket (seen through the command itself, checked below):
    // "queued" is there from the 202 on, before the request ran.
    for (const id of [doneId, deadId])
      await eventually(`outcome of ${id}`, async () => {
        const r = await veltrix("request", id, "-n", ns, "--config", "orders", "--nats-url", natsUrl());
        return r.code === exitCodes.ok && /state: (done|expired)/.test(r.out) ? r : undefined;
      });

    // The idle config: three requests queued by hand, one of them delivered and not acknowledged.
    nc = await connect({ servers: natsUrl() });
    const js = jetstream(nc);
    const subject = `${queueSubjectPrefix({ namespace: ns, name: "idle" })}.async`;
    for (let i = 0; i < 3; i++) await js.publish(subject, `job ${i}`);
    const consumer = await js.consumers.get(`VX_${ns}_idle`, "sidecars");
    unacked = (await consumer.next({ expires: 5_000 }))!;
    expect(unacked).not.toBeNull();
  });

  afterAll(async () => {
    unacked?.ack();
    await nc?.close();
    await sidecar?.process.stop();
    await app?.process.stop();
    await operator?.stop();
    await downOperator?.stop();
  });

  it("shows every config with its revision, pods, live queue and dead letters, as a table", async () => {
    // The sidecar has finished with orders' requests once its queue is empty.
    const r = await eventually("orders' queue empty", async () => {
      const r = await veltrix("status", "-n", ns, "--kubeconfig", kubeconfig, "--nats-url", natsUrl());
      return tableRows(r.out).get("orders")?.["QUEUE DEPTH"] === "0" ? r : undefined;
    });
    expect(r.err).toBe("");
    expect(r.code).toBe(exitCodes.ok);
    const rows = tableRows(r.out);
    expect([...rows.keys()]).toEqual(["idle", "orders"]);
    expect(rows.get("orders")).toEqual({
      NAME: "orders",
      READY: "True",
      REVISION: revisions.orders,
      "PODS IN SYNC": "0/0",
      "QUEUE DEPTH": "0",
      PENDING: "0",
      "DEAD LETTERS": "1",
    });
    expect(rows.get("idle")).toEqual({
      NAME: "idle",
      READY: "True",
      REVISION: revisions.idle,
      "PODS IN SYNC": "0/0",
      "QUEUE DEPTH": "3",
      PENDING: "1",
      "DEAD LETTERS": "0",
    });
  });

  it("gives the same in JSON, one config by name", async () => {
    const r = await veltrix(
      "status",
      "idle",
      "-n",
      ns,
      "-o",
      "json",
      "--kubeconfig",
      kubeconfig,
      "--nats-url",
      natsUrl(),
    );
    expect(r.code).toBe(exitCodes.ok);
    const { configs } = JSON.parse(r.out) as { configs: ConfigStatus[] };
    expect(configs).toEqual([
      {
        namespace: ns,
        name: "idle",
        revision: revisions.idle,
        pods: { injected: 0, inSync: 0 },
        queue: { source: "nats", depth: 3, consumerPending: 1, consumerWaiting: 2, deadLetters: 0 },
        notTrue: [],
        natsProblems: [],
        ready: true,
      },
    ]);
  });

  it("without NATS shows the operator's last numbers and no dead-letter count, and says so", async () => {
    const r = await veltrix("status", "idle", "-n", ns, "--output=json", "--kubeconfig", kubeconfig);
    expect(r.code).toBe(exitCodes.ok);
    const [idle] = (JSON.parse(r.out) as { configs: ConfigStatus[] }).configs;
    expect(idle!.queue.source).toBe("status");
    expect(idle!.queue.deadLetters).toBeNull();
    const table = await veltrix("status", "idle", "-n", ns, "--kubeconfig", kubeconfig);
    expect(tableRows(table.out).get("idle")?.["DEAD LETTERS"]).toBe("-");
    expect(table.out).toContain("dead letters need NATS (--nats-url)");
  });

  it("lists every condition that is not True, and exits 1, for a config whose NATS is down", async () => {
    const r = await eventually("stranded's conditions", async () => {
      const r = await veltrix("status", "-n", nsDown, "-o", "json", "--kubeconfig", kubeconfig);
      const [c] = (JSON.parse(r.out) as { configs: ConfigStatus[] }).configs;
      return c && c.notTrue.some((n) => n.type === "Ready" && n.status === "False") ? { r, c } : undefined;
    });
    expect(r.r.code).toBe(exitCodes.notOk);
    expect(r.c.ready).toBe(false);
    expect(r.c.notTrue.map((n) => `${n.type}=${n.status} ${n.reason}`).sort()).toEqual([
      "BodyFitsBroker=Unknown NatsUnavailable",
      "ConfigPublished=False NatsUnavailable",
      "Ready=False NatsUnavailable",
      "StreamReady=False NatsUnavailable",
    ]);
    const table = await veltrix("status", "-n", nsDown, "--kubeconfig", kubeconfig);
    expect(table.code).toBe(exitCodes.notOk);
    expect(tableRows(table.out).get("stranded")?.READY).toBe("False");
    expect(table.out).toMatch(new RegExp(`${nsDown}/stranded: Ready=False NatsUnavailable: \\S`));
  });

  it("shows every namespace with -A, in a NAMESPACE column", async () => {
    const r = await veltrix("status", "-A", "--kubeconfig", kubeconfig);
    const rows = [...tableRows(r.out).values()].filter((row) => [ns, nsDown].includes(row.NAMESPACE!));
    expect(rows.map((row) => `${row.NAMESPACE}/${row.NAME} ${row.READY}`).sort()).toEqual(
      [`${ns}/idle True`, `${ns}/orders True`, `${nsDown}/stranded False`].sort(),
    );
    expect((await veltrix("status", "-A", "orders")).code).toBe(exitCodes.usage);
  });

  it("exits 1 for a name that does not exist, 3 when NATS or the API server cannot be read, 2 on usage", async () => {
    const missing = await veltrix("status", "nope", "-n", ns, "--kubeconfig", kubeconfig);
    expect(missing.code).toBe(exitCodes.notOk);
    expect(missing.err).toMatch(/not found/);

    const noNats = await veltrix(
      "status",
      "-n",
      ns,
      "--kubeconfig",
      kubeconfig,
      "--nats-url",
      `nats://127.0.0.1:${await freePort()}`,
    );
    expect(noNats.code).toBe(exitCodes.unavailable);
    expect(noNats.err).toMatch(/cannot read NATS/);
    expect(tableRows(noNats.out).has("orders")).toBe(true);

    const nowhere = join(tempDir("cli-kubeconfig"), "kubeconfig");
    writeFileSync(
      nowhere,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: `http://127.0.0.1:${await freePort()}` } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        users: [{ name: "u", user: {} }],
        "current-context": "c",
      }),
    );
    const noApi = await veltrix("status", "-n", ns, "--kubeconfig", nowhere);
    expect(noApi.code).toBe(exitCodes.unavailable);
    expect(noApi.err).toMatch(/cannot read VeltrixConfigs from the API server/);

    expect((await veltrix("status", "a", "b")).code).toBe(exitCodes.usage);
    expect((await veltrix("status", "--bogus")).code).toBe(exitCodes.usage);
  });

  it("request: the record and outcome from a sidecar's admin API", async () => {
    // The record is committed by the sidecar's writer thread just after the outcome is put.
    const r = await eventually("the record done", async () => {
      const got = await veltrix("request", doneId, "--admin", sidecar.admin);
      return /\n {2}state: done\n/.test(got.out) ? got : undefined;
    });
    expect(r.code).toBe(exitCodes.ok);
    expect(r.out).toContain(`request ${doneId} (from the sidecar's admin API)`);
    expect(r.out).toMatch(/\n {2}state: done\n/);
    expect(r.out).toContain(`revision: ${revisions.orders}`);
    expect(r.out).toContain('config: {"greeting":"hello"}');
    expect(r.out).toMatch(/outcome:\n[\s\S]*status: 200/);

    const json = await eventually("the dead letter's record", async () => {
      const got = await veltrix("request", deadId, "--admin", sidecar.admin, "-o", "json");
      return got.out.includes('"expired"') ? got : undefined;
    });
    expect(json.code).toBe(exitCodes.ok);
    const found = JSON.parse(json.out) as { source: string; record: { state: string; error: string } };
    expect(found.source).toBe("admin");
    expect(found.record.state).toBe("expired");
    expect(found.record.error).toMatch(/^VX_ERR_DEAD_LETTERED/);
  });

  it("request: the outcome from the config's outcome bucket, a dead letter marked as one", async () => {
    const done = await veltrix("request", doneId, "-n", ns, "--config", "orders", "--nats-url", natsUrl());
    expect(done.code).toBe(exitCodes.ok);
    expect(done.out).toContain("(from the outcome bucket)");
    expect(done.out).toMatch(/state: done[\s\S]*status: 200/);

    const dead = await veltrix(
      "request",
      deadId,
      "-n",
      ns,
      "--config",
      "orders",
      "--nats-url",
      natsUrl(),
      "-o",
      "json",
    );
    expect(dead.code).toBe(exitCodes.ok);
    expect(JSON.parse(dead.out)).toMatchObject({
      source: "outcome-bucket",
      id: deadId,
      outcome: { id: deadId, state: "expired", deadLettered: true, attempt: 1 },
    });
  });

  it("request: exits 1 for an unknown id, 3 when the admin API cannot be reached, 2 without a source", async () => {
    const unknown = await veltrix(
      "request",
      "no-such-id",
      "--admin",
      sidecar.admin,
      "-n",
      ns,
      "--config",
      "orders",
      "--nats-url",
      natsUrl(),
    );
    expect(unknown.code).toBe(exitCodes.notOk);
    expect(unknown.err).toContain(
      `no-such-id not found in the admin API at ${sidecar.admin} or the outcome bucket of ${ns}/orders`,
    );
    const closed = await veltrix("request", doneId, "--admin", `http://127.0.0.1:${await freePort()}`);
    expect(closed.code).toBe(exitCodes.unavailable);
    expect((await veltrix("request", doneId)).code).toBe(exitCodes.usage);
  });
});
