// The least NATS permissions a sidecar needs (contract.sidecarNatsPermissions): a real
// nats-server whose sidecar users have exactly those, two configs (sync and async),
// requests served end to end with no permission violation in the server's log, and
// nothing of the other config reachable. The stream, consumer and buckets are made by
// an admin user first, as the operator would; the sidecars run as in a cluster (no
// --ensure-stream).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  configBucket,
  inboxPrefix,
  outcomeBucketName,
  replyPrefix,
  sidecarNatsPermissions,
  sidecarStatusBucket,
  streamName,
} from "../../api/contract.ts";
import { ensureOutcomeBucket } from "../../api/outcome-bucket.ts";
import { configDocument } from "../../api/resolve.ts";
import { queueSettings } from "../../sidecar/config/settings.ts";
import { queueNames } from "../../sidecar/queue/names.ts";
import { ensureQueue } from "../../sidecar/queue/setup.ts";
import { eventually, tempDir } from "../harness/env.ts";
import { type NatsServer, startNats } from "../../devenv/nats.ts";
import { type App, startApp, startSidecar, type Sidecar, writeVeltrixConfig } from "./helpers.ts";

const namespace = "perm";
const configs = [
  { name: "shop", mode: "sync" },
  { name: "reports", mode: "async" },
  // Its user lacks one permission (publishing to its queue): how a misconfigured user shows.
  { name: "short", mode: "sync" },
] as const;

describe("sidecar with the least NATS permissions (own nats-server)", () => {
  let dir: string;
  let nats: NatsServer;
  let app: App;
  const started: Sidecar[] = [];

  const userBlock = (name: string): string => {
    const p = sidecarNatsPermissions({ namespace, name });
    if (name === "short") p.publish = p.publish.filter((subject) => !subject.startsWith("veltrix.q."));
    const permissions = { publish: { allow: p.publish }, subscribe: { allow: p.subscribe } };
    return `{ user: "${name}", password: "${name}-pw", permissions: ${JSON.stringify(permissions)} }`;
  };

  beforeAll(async () => {
    dir = tempDir("sidecar-nats-permissions");
    nats = await startNats({
      dir,
      name: "nats-perm",
      extraConfig: [
        "authorization {",
        "  users = [",
        '    { user: "admin", password: "admin-pw" }',
        ...configs.map((c) => `    ${userBlock(c.name)}`),
        "  ]",
        "}",
      ].join("\n"),
    });
    app = await startApp(dir);
    // What the operator creates before any sidecar runs.
    const admin = await connect({ servers: nats.url, user: "admin", pass: "admin-pw" });
    for (const c of configs) {
      writeVeltrixConfig(dir, { name: c.name, namespace, queue: { mode: c.mode } }, `${c.name}.yaml`);
      const doc = configDocument({ namespace, name: c.name }, { queue: { mode: c.mode } });
      const names = queueNames({ namespace, name: c.name });
      const settings = queueSettings(doc);
      await ensureQueue(admin, names, settings, true);
      await ensureOutcomeBucket(admin, names.outcomeBucket, settings.retentionMs);
    }
    const kvm = new Kvm(admin);
    await kvm.create(configBucket, { history: 5 });
    await kvm.create(sidecarStatusBucket, { history: 1, ttl: 90_000 });
    await admin.close();
  });
  afterAll(async () => {
    for (const sc of started) await sc.process.stop().catch(() => undefined);
    await app?.process.stop();
    await nats?.stop();
  });

  async function sidecar(name: string): Promise<Sidecar> {
    const creds = join(dir, "secrets", name);
    mkdirSync(creds, { recursive: true });
    writeFileSync(join(creds, "user"), name);
    writeFileSync(join(creds, "password"), `${name}-pw`);
    const sc = await startSidecar({
      dir,
      name: `sc-${name}`,
      configFile: join(dir, `${name}.yaml`),
      appPort: app.port,
      natsUrl: nats.url,
      extraArgs: ["--nats-credentials-dir", creds],
      ensureStream: false,
    });
    started.push(sc);
    return sc;
  }

  it("serves sync and async requests with no permission violation, and reaches nothing of another config", async () => {
    const shop = await sidecar("shop");
    const reports = await sidecar("reports");

    const sync = await fetch(`${shop.url}/order`, { method: "POST", body: "one" });
    expect(sync.status).toBe(200);

    const accepted = await fetch(`${reports.url}/report`, { method: "POST", body: "two" });
    expect(accepted.status).toBe(202);
    const { status } = (await accepted.json()) as { status: string };
    const outcome = await eventually("async outcome", async () => {
      const o = (await (await fetch(`${reports.url}${status}`)).json()) as {
        state?: string;
        status?: number;
      };
      return o.state === "done" ? o : undefined;
    });
    expect(outcome.status).toBe(200);
    // Each reported its applied revision to the status bucket.
    const checker = await connect({ servers: nats.url, user: "admin", pass: "admin-pw" });
    const statuses = await new Kvm(checker).open(sidecarStatusBucket);
    await eventually("status reports", async () =>
      (await statuses.get(`${namespace}.shop.sc-shop`)) &&
      (await statuses.get(`${namespace}.reports.sc-reports`))
        ? true
        : undefined,
    );
    await checker.close();

    const log = (): string[] =>
      readFileSync(join(dir, "nats-perm", "nats-server.log"), "utf8")
        .split("\n")
        .filter((l) => /violation/i.test(l));
    expect(log()).toEqual([]);

    // A user without the queue publish: the client is told NATS refused (not that it is
    // unreachable), and the sidecar's log names the subject.
    const short = await sidecar("short");
    const refused = await fetch(`${short.url}/order`, { method: "POST", body: "three" });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("x-veltrix-error")).toBe("VX_ERR_BROKER_REFUSED");
    await eventually("the sidecar logged the refusal", () =>
      Promise.resolve(
        readFileSync(join(dir, "sc-short.log"), "utf8")
          .split("\n")
          .some(
            (line) =>
              line.includes('"msg":"NATS refused the publish"') &&
              line.includes(`"subject":"veltrix.q.${namespace}.short.sync"`),
          )
          ? true
          : undefined,
      ),
    );

    // The shop user cannot look into the reports stream (its client on shop's own inboxes,
    // as a shop sidecar's is).
    const shopUser = await connect({
      servers: nats.url,
      user: "shop",
      pass: "shop-pw",
      inboxPrefix: inboxPrefix({ namespace, name: "shop" }),
    });
    const jsm = await jetstreamManager(shopUser);
    await expect(jsm.streams.info(streamName({ namespace, name: "reports" }))).rejects.toThrow(/permission/i);
    await eventually("the server logged the refusal", () =>
      Promise.resolve(
        /user:shop.*Violation.*STREAM\.INFO\.VX_perm_reports/.test(log().join("\n")) ? true : undefined,
      ),
    );

    // Nor read reports' traffic: its inboxes (pulled requests, JetStream answers), its
    // replies, or the shared default inbox root; nor fake a reply to a reports holder.
    const reportsRef = { namespace, name: "reports" };
    const attempts = [
      `${inboxPrefix(reportsRef)}.>`,
      `${replyPrefix(reportsRef)}.>`,
      "_INBOX.>",
      "_VX.>",
      `$KV.${outcomeBucketName(reportsRef)}.>`,
    ];
    const denied: string[] = [];
    for (const subject of attempts) {
      const sub = shopUser.subscribe(subject);
      // nats.js ends a refused subscription, with the server's error (resolved or rejected).
      const ended: unknown = await sub.closed.then(
        (v: unknown) => v,
        (err: unknown) => err,
      );
      if (/permission/i.test(String(ended))) denied.push(subject);
    }
    expect(denied).toEqual(attempts);
    shopUser.publish(`${replyPrefix(reportsRef)}.0a1b2c3d.fake`, "forged");
    await eventually("the forged reply refused", () =>
      Promise.resolve(
        new RegExp(`user:shop.*Publish Violation.*_VX\\.reply\\.${namespace}\\.reports`).test(
          log().join("\n"),
        )
          ? true
          : undefined,
      ),
    );
    await shopUser.close();
  }, 60_000);
});
