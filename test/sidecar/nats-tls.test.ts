// The sidecar against a NATS that requires TLS (a CA from operator/certs/issue.ts) and
// authentication (an NKey user in a .creds file): with the CA (--nats-tls-ca) a sync
// request goes through JetStream to the app; without it the sidecar stays not ready and
// says, in /readyz and its log, that TLS failed and which option sets the CA. The
// directory form (--nats-tls-dir with ca.crt) is what the webhook mounts. Uses its own
// nats-server.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, tempDir } from "../harness/env.ts";
import type { NatsServer } from "../../devenv/nats.ts";
import { startSecureNats } from "../../devenv/secure-nats.ts";
import { type App, startApp, startFailFastSyncSidecar, type Sidecar } from "./helpers.ts";

describe("sidecar to NATS over TLS with credentials (own nats-server)", () => {
  let nats: NatsServer;
  let app: App;
  let dir: string;
  let caFile: string;
  let credsFile: string;
  const started: Sidecar[] = [];

  async function sidecar(name: string, extraArgs: string[], waitReady = true): Promise<Sidecar> {
    const sc = await startFailFastSyncSidecar({
      dir,
      name,
      appPort: app.port,
      natsUrl: nats.url,
      extraArgs,
      waitReady,
    });
    started.push(sc);
    return sc;
  }

  beforeAll(async () => {
    dir = tempDir("sidecar-nats-tls");
    ({ nats, caFile, credsFile } = await startSecureNats({ dir, credsName: "sidecar.creds" }));
    app = await startApp(dir);
  });
  afterAll(async () => {
    for (const sc of started) await sc.process.stop().catch(() => undefined);
    await app?.process.stop();
    await nats?.stop();
  });

  it("with the CA and the .creds file, a sync request goes through JetStream to the app", async () => {
    const sc = await sidecar("with-ca", ["--nats-credentials", credsFile, "--nats-tls-ca", caFile]);
    const ready = (await (await fetch(`${sc.admin}/readyz`)).json()) as Record<string, unknown>;
    expect(ready).toMatchObject({ ready: true, broker: "up", queue: "attached" });

    await app.reset();
    const res = await fetch(`${sc.url}/over-tls`, { method: "POST", body: "hello" });
    expect(res.status).toBe(200);
    const echoed = (await res.json()) as { id: string; bodyBytes: number };
    expect(echoed.id).toBe(res.headers.get("x-veltrix-request-id"));
    expect(echoed.bodyBytes).toBe(5);
    expect((await app.stats()).count).toBe(1);
    const metrics = await (await fetch(`${sc.admin}/metrics`)).text();
    expect(metrics).toMatch(/veltrix_sidecar_requests_total\{[^}]*mode="sync"[^}]*\} 1/);
  });

  it("takes the CA from a mounted directory (the webhook's layout) and verifies the server name", async () => {
    const tlsDir = join(dir, "nats-tls-mount");
    mkdirSync(tlsDir);
    writeFileSync(join(tlsDir, "ca.crt"), readFileSync(caFile));
    const sc = await sidecar("with-dir", [
      "--nats-credentials",
      credsFile,
      "--nats-tls-dir",
      tlsDir,
      "--nats-tls-server-name",
      "localhost",
    ]);
    const res = await fetch(`${sc.url}/over-tls-dir`, { method: "POST", body: "hi" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { bodyBytes: number }).bodyBytes).toBe(2);

    // The same CA with a name the certificate does not carry: refused, and the reason says so.
    const wrong = await sidecar(
      "wrong-name",
      ["--nats-credentials", credsFile, "--nats-tls-dir", tlsDir, "--nats-tls-server-name", "nats.example"],
      false,
    );
    await eventually("readyz names the server name mismatch", async () => {
      const r = await fetch(`${wrong.admin}/readyz`);
      const body = (await r.json()) as { reasons: string[] };
      return r.status === 503 &&
        body.reasons.some((x) =>
          /TLS to NATS at .* failed: .*nats\.example.*; check the CA .* and --nats-tls-server-name/.test(x),
        )
        ? true
        : undefined;
    });
  });

  it("without the CA it is not ready and says TLS failed and how to set the CA", async () => {
    const sc = await sidecar("without-ca", ["--nats-credentials", credsFile], false);
    const message =
      /TLS to NATS at nats:\/\/127\.0\.0\.1:\d+ failed: .*certificate.*; set the CA with --nats-tls-ca or VELTRIX_NATS_TLS_CA/;
    const reasons = await eventually("readyz names the TLS failure", async () => {
      const res = await fetch(`${sc.admin}/readyz`);
      const body = (await res.json()) as { reasons: string[] };
      return res.status === 503 && body.reasons.some((r) => message.test(r)) ? body.reasons : undefined;
    });
    expect(reasons.join("\n")).toMatch(
      /^broker unavailable and queue.onBrokerUnavailable is fail \(TLS to NATS/m,
    );
    // The same sentence in the log (its pipe to the file may trail /readyz a little).
    await eventually("the log names the TLS failure", () =>
      Promise.resolve(message.test(readFileSync(join(dir, "without-ca.log"), "utf8")) ? true : undefined),
    );
    const res = await fetch(`${sc.url}/no-broker`, { method: "POST", body: "x" });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-veltrix-error")).toBe("VX_ERR_BROKER_UNAVAILABLE");
  });
});
