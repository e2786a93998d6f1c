// The operator against a NATS that requires TLS (a CA from operator/certs/issue.ts) and
// authentication: without the CA it reports Ready=False NatsTLSFailed, with a wrong
// password NatsAuthFailed, and with the right settings (a .creds file, or the chart's
// mounted credentials directory) it reconciles to Ready. Uses its own nats-server.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamName } from "../../../api/contract.ts";
import { installCrd } from "../../../devenv/crd.ts";
import type { NatsClientSettings } from "../../../lib/nats-auth.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import type { NatsServer } from "../../../devenv/nats.ts";
import { startSecureNats } from "../../../devenv/secure-nats.ts";
import { condition, createVxc, events, getVxc, readyVxc, startOperator } from "../helpers.ts";

describe("NATS with TLS and authentication (own nats-server)", () => {
  let nats: NatsServer;
  let namespace: string;
  let dir: string;
  let caFile: string;
  let credsFile: string;

  /** A mounted credentials Secret as the chart delivers it (one file per key). */
  function secretDir(name: string, data: Record<string, string>): string {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    for (const [k, v] of Object.entries(data)) writeFileSync(join(d, k), v);
    return d;
  }

  async function withOperator<T>(client: NatsClientSettings, body: () => Promise<T>): Promise<T> {
    const op = await startOperator(namespace, nats.url, {
      natsClient: client,
      statusRefreshMs: 1_000,
      maxBackoffMs: 1_000,
    });
    try {
      return await body();
    } finally {
      await op.stop();
    }
  }

  /** Waits for Ready=False with `reason` (and a message matching `message`, when given). */
  async function readyReason(name: string, reason: string, message?: RegExp) {
    return eventually(`${name} Ready=False ${reason} ${message ?? ""}`, async () => {
      const v = await getVxc(namespace, name);
      const c = condition(v, "Ready");
      return c?.status === "False" && c.reason === reason && (!message || message.test(c.message ?? ""))
        ? c
        : undefined;
    });
  }

  beforeAll(async () => {
    await installCrd(kubeConfig());
    dir = tempDir("op-nats-auth");
    ({ nats, caFile, credsFile } = await startSecureNats({
      dir,
      credsName: "operator.creds",
      // "rotator" is the rotation test's own user: changing its password touches no other test.
      passwordUsers: [
        { user: "veltrix", password: "s3cret" },
        { user: "rotator", password: "r0tate-me" },
      ],
    }));
    namespace = await createNamespace("op-nats-auth");
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("reports NatsTLSFailed without the CA and NatsAuthFailed with a wrong password", async () => {
    await createVxc(namespace, "api", { config: { v: "1" } });

    const tls = await withOperator({ credentialsFile: credsFile }, () => readyReason("api", "NatsTLSFailed"));
    expect(tls.message).toMatch(
      /TLS to NATS failed: nats:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed)/i,
    );

    const wrong = secretDir("wrong", { user: "veltrix", password: "nope" });
    const auth = await withOperator({ tlsCaFile: caFile, credentialsDir: wrong }, () =>
      readyReason("api", "NatsAuthFailed"),
    );
    expect(auth.message).toMatch(/refused the operator's credentials: .*authorization violation/i);

    // A mounted Secret with the wrong keys: the server never saw anything, and says so.
    const slip = secretDir("slip", { username: "veltrix", pass: "s3cret" });
    const unusable = await withOperator({ tlsCaFile: caFile, credentialsDir: slip }, () =>
      readyReason("api", "NatsAuthFailed", /cannot use/),
    );
    expect(unusable.message).toMatch(
      /cannot use the operator's NATS credentials for .*: NATS credentials directory .*slip/,
    );
    expect(unusable.message).not.toMatch(/refused/);

    const none = await withOperator({ tlsCaFile: caFile }, () =>
      readyReason("api", "NatsAuthFailed", /authorization violation/i),
    );
    expect(none.message).toMatch(/authorization violation/i);

    const reasons = (await events(namespace, "api")).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["NatsTLSFailed", "NatsAuthFailed"]));
  });

  it("reconciles to Ready with the CA and a .creds file, or the chart's mounted Secret directories", async () => {
    await createVxc(namespace, "orders", { config: { v: "1" } });
    await withOperator({ tlsCaFile: caFile, credentialsFile: credsFile }, () =>
      eventually("orders Ready with .creds", () => readyVxc(namespace, "orders")),
    );

    // The chart's layout: VELTRIX_NATS_CREDENTIALS_DIR and VELTRIX_NATS_TLS_DIR.
    await createVxc(namespace, "billing", { config: { v: "1" } });
    const tlsDir = secretDir("tls", { "ca.crt": readFileSync(caFile, "utf8") });
    const creds = secretDir("password", { user: "veltrix", password: "s3cret" });
    await withOperator({ tls: true, tlsDir, credentialsDir: creds }, () =>
      eventually("billing Ready with mounted Secrets", () => readyVxc(namespace, "billing")),
    );

    const nc = await connect({
      servers: nats.url,
      tls: { caFile },
      user: "veltrix",
      pass: "s3cret",
    });
    try {
      const jsm = await jetstreamManager(nc);
      for (const name of ["orders", "billing"]) {
        expect((await jsm.streams.info(streamName({ namespace, name }))).config.name).toBe(
          streamName({ namespace, name }),
        );
      }
    } finally {
      await nc.close();
    }
  });

  it("recovers after credentials are rotated: NatsAuthFailed until the mounted files change", async () => {
    await createVxc(namespace, "rotate", { config: { v: "1" } });
    const creds = secretDir("rotate", { user: "rotator", password: "r0tate-me" });
    await withOperator({ tlsCaFile: caFile, credentialsDir: creds }, async () => {
      await eventually("rotate Ready", () => readyVxc(namespace, "rotate"));

      // The NATS admin rotates the password; the operator's Secret is not updated yet.
      const conf = join(dir, "nats", "nats.conf");
      const before = readFileSync(conf, "utf8");
      expect(before).toContain('password: "r0tate-me"');
      writeFileSync(conf, before.replace('password: "r0tate-me"', 'password: "r0tated"'));
      await nats.stop();
      await nats.start();
      const refused = await readyReason("rotate", "NatsAuthFailed");
      expect(refused.message).toMatch(/authorization violation/i);

      // The kubelet updates the mounted Secret: the next connect reads it.
      writeFileSync(join(creds, "password"), "r0tated");
      await eventually("rotate Ready again", () => readyVxc(namespace, "rotate"), 30_000);
    });
  });
});
