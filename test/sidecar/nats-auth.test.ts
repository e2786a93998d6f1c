// The sidecar against NATS servers that require a token, or a user and password (or an
// NKey user), given as the webhook mounts them: a Secret directory (--nats-credentials-dir,
// VELTRIX_NATS_CREDENTIALS_DIR) read by the operator's parser (lib/nats-auth.ts).
// With the right credentials a sync request goes through JetStream to the app; with
// wrong ones the sidecar stays not ready and /readyz and its log say authentication
// failed; with a malformed directory they name the file and what was expected. Uses its
// own nats-servers.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credsText } from "../../devenv/creds.ts";
import { eventually, tempDir } from "../harness/env.ts";
import { type NatsServer, startNats } from "../../devenv/nats.ts";
import { type App, startApp, startFailFastSyncSidecar, type Sidecar } from "./helpers.ts";

describe("sidecar to NATS with a token or user/password from a mounted Secret (own nats-servers)", () => {
  let tokenNats: NatsServer;
  let userNats: NatsServer;
  let app: App;
  let dir: string;
  const nkeyUser = nkeys.createUser();
  const started: Sidecar[] = [];

  /** A mounted credentials Secret as the webhook delivers it (one file per key). */
  function secretDir(name: string, data: Record<string, string>): string {
    const d = join(dir, "secrets", name);
    mkdirSync(d, { recursive: true });
    for (const [k, v] of Object.entries(data)) writeFileSync(join(d, k), v);
    return d;
  }

  async function sidecar(
    name: string,
    nats: NatsServer,
    credsDir: string,
    waitReady = true,
  ): Promise<Sidecar> {
    const sc = await startFailFastSyncSidecar({
      dir,
      name,
      appPort: app.port,
      natsUrl: nats.url,
      extraArgs: ["--nats-credentials-dir", credsDir],
      waitReady,
    });
    started.push(sc);
    return sc;
  }

  async function servesSyncRequest(sc: Sidecar, path: string): Promise<void> {
    const ready = (await (await fetch(`${sc.admin}/readyz`)).json()) as Record<string, unknown>;
    expect(ready).toMatchObject({ ready: true, broker: "up", queue: "attached" });
    const before = (await app.stats()).count;
    const res = await fetch(`${sc.url}${path}`, { method: "POST", body: "hello" });
    expect(res.status).toBe(200);
    const echoed = (await res.json()) as { id: string; bodyBytes: number };
    expect(echoed.id).toBe(res.headers.get("x-veltrix-request-id"));
    expect(echoed.bodyBytes).toBe(5);
    expect((await app.stats()).count).toBe(before + 1);
    const metrics = await (await fetch(`${sc.admin}/metrics`)).text();
    expect(metrics).toMatch(/veltrix_sidecar_requests_total\{[^}]*mode="sync"[^}]*\} [1-9]/);
  }

  /** Not ready, with `message` in /readyz and in the log; a request gets the broker error. */
  async function notReady(sc: Sidecar, name: string, message: RegExp): Promise<void> {
    const reasons = await eventually(`readyz of ${name} says ${message}`, async () => {
      const res = await fetch(`${sc.admin}/readyz`);
      const body = (await res.json()) as { reasons: string[] };
      return res.status === 503 && body.reasons.some((r) => message.test(r)) ? body.reasons : undefined;
    });
    expect(reasons.join("\n")).toMatch(/^broker unavailable and queue.onBrokerUnavailable is fail \(/m);
    // The same sentence in the log (its pipe to the file may trail /readyz a little).
    await eventually(`${name}'s log says ${message}`, () =>
      Promise.resolve(message.test(readFileSync(join(dir, `${name}.log`), "utf8")) ? true : undefined),
    );
    const res = await fetch(`${sc.url}/no-broker`, { method: "POST", body: "x" });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-veltrix-error")).toBe("VX_ERR_BROKER_UNAVAILABLE");
  }

  beforeAll(async () => {
    dir = tempDir("sidecar-nats-auth");
    tokenNats = await startNats({
      dir,
      name: "nats-token",
      extraConfig: 'authorization { token: "t0ken-s3cret" }',
    });
    userNats = await startNats({
      dir,
      name: "nats-users",
      extraConfig: [
        "authorization {",
        `  users = [ { user: "shop", password: "pa55-s3cret" }, { nkey: ${JSON.stringify(nkeyUser.getPublicKey())} } ]`,
        "}",
      ].join("\n"),
    });
    app = await startApp(dir);
  });
  afterAll(async () => {
    for (const sc of started) await sc.process.stop().catch(() => undefined);
    await app?.process.stop();
    await tokenNats?.stop();
    await userNats?.stop();
  });

  it("with the right token a sync request goes through; with a wrong one authentication fails", async () => {
    // A trailing newline, as `kubectl create secret --from-file` keeps it.
    const good = await sidecar("token-good", tokenNats, secretDir("token-good", { token: "t0ken-s3cret\n" }));
    await servesSyncRequest(good, "/with-token");

    const wrongDir = secretDir("token-wrong", { token: "not-the-token" });
    const wrong = await sidecar("token-wrong", tokenNats, wrongDir, false);
    await notReady(
      wrong,
      "token-wrong",
      new RegExp(
        `authentication to NATS at nats://127\\.0\\.0\\.1:${tokenNats.port} failed, the server refused the credentials: .*authorization violation.*; check ${wrongDir}`,
        "i",
      ),
    );
  });

  it("with the right user and password a sync request goes through; with a wrong password authentication fails", async () => {
    const good = await sidecar(
      "password-good",
      userNats,
      secretDir("password-good", { user: "shop\n", password: "pa55-s3cret\n" }),
    );
    await servesSyncRequest(good, "/with-password");

    const wrong = await sidecar(
      "password-wrong",
      userNats,
      secretDir("password-wrong", { user: "shop", password: "nope" }),
      false,
    );
    await notReady(
      wrong,
      "password-wrong",
      /authentication to NATS at .* failed, the server refused the credentials: .*authorization violation/i,
    );
  });

  it("takes a .creds file from the key creds (the chart's default key, mounted whole)", async () => {
    const sc = await sidecar("creds-key", userNats, secretDir("creds-key", { creds: credsText(nkeyUser) }));
    await servesSyncRequest(sc, "/with-creds");
  });

  it("with a malformed directory names it and what it should hold", async () => {
    const slipDir = secretDir("wrong-keys", { username: "shop", pass: "pa55-s3cret" });
    const slip = await sidecar("wrong-keys", userNats, slipDir, false);
    const message = `cannot use the NATS credentials for nats://127.0.0.1:${userNats.port}: NATS credentials directory ${slipDir} has none of the keys creds, user and password, token (it has pass, username); expected the key creds (a .creds file), or user and password, or token`;
    await notReady(slip, "wrong-keys", new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));

    const halfDir = secretDir("half", { user: "shop" });
    const half = await sidecar("half", userNats, halfDir, false);
    await notReady(
      half,
      "half",
      /cannot use the NATS credentials for .*: NATS credentials directory .*\/half has user but no password/,
    );
  });

  it("keeps reconnecting when the server's token changes: not ready saying why, ready once the Secret has the new one", async () => {
    const rotating = await startNats({
      dir,
      name: "nats-rotating",
      extraConfig: 'authorization { token: "first-t0ken" }',
    });
    try {
      const secret = secretDir("rotating", { token: "first-t0ken" });
      const sc = await sidecar("rotating", rotating, secret);
      await servesSyncRequest(sc, "/before-rotation");
      // The server moves to a new token; the sidecar still holds the old one. nats.js
      // would stop reconnecting after the second refusal; the sidecar must not.
      await rotating.stop();
      rotating.setExtraConfig('authorization { token: "second-t0ken" }');
      await rotating.start();
      await notReady(
        sc,
        "rotating",
        /authentication to NATS at \S+ failed, the server refused the credentials: .*authorization violation/i,
      );
      // Several refused attempts, counted in the server's log since its restart: past the
      // second refusal, where nats.js would give up.
      const refusalsSinceRestart = (): number => {
        const log = readFileSync(rotating.process.spec.logFile, "utf8");
        const sinceStart = log.slice(log.lastIndexOf("\n--- "));
        return sinceStart.split("\n").filter((l) => /authentication error|authorization violation/i.test(l))
          .length;
      };
      await eventually("three refused reconnects", () =>
        Promise.resolve(refusalsSinceRestart() >= 3 ? true : undefined),
      );
      writeFileSync(join(secret, "token"), "second-t0ken\n");
      await eventually("ready with the rotated token", async () =>
        (await fetch(`${sc.admin}/readyz`)).status === 200 ? true : undefined,
      );
      await servesSyncRequest(sc, "/after-rotation");
    } finally {
      await rotating.stop();
    }
  }, 90_000);
});
