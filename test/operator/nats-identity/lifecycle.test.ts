// A minted sidecar user's life against a real nats-server with decentralised auth: renewed
// before it expires while a real sidecar keeps answering across the expiry of the first
// user (nats-server closes the connection, the sidecar reconnects with the renewed file),
// and revoked when its VeltrixConfig is deleted (the Secret goes, the server drops the
// connected user and refuses it afterwards) with no restart or config edit of nats-server.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfigRef,
  group,
  inboxPrefix,
  natsCredentialsAnnotations,
  natsCredentialsKey,
  natsCredentialsSecretName,
  plural,
  version,
} from "../../../api/contract.ts";
import { installCrd } from "../../../devenv/crd.ts";
import { type DecentralisedNats, startDecentralisedNats } from "../../../devenv/decentralised-nats.ts";
import { accountSigner, operatorSigningKey } from "../../../operator/nats-identity/mint.ts";
import type { NatsUserMinting } from "../../../operator/nats-identity/mint.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { type App, startApp, startSidecar, writeVeltrixConfig } from "../../sidecar/helpers.ts";
import { createVxc, events, startOperator, type TestOperator } from "../helpers.ts";

describe("minted NATS users: renewal and revocation (own nats-server, decentralised auth)", () => {
  let dir: string;
  let auth: DecentralisedNats;
  let app: App;
  const stops: (() => Promise<unknown>)[] = [];
  const core = () => kubeConfig().makeApiClient(CoreV1Api);

  beforeAll(async () => {
    await installCrd(kubeConfig());
    dir = tempDir("minted-users");
    auth = await startDecentralisedNats({ dir, name: "nats-minted" });
    app = await startApp(dir);
  });
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await app?.process.stop();
    await auth?.nats.stop();
  });

  function minting(validityMs: number, revoke: boolean): NatsUserMinting {
    return {
      signer: accountSigner(readFileSync(auth.accountSigningKeyFile, "utf8"), auth.account),
      validityMs,
      ...(revoke && {
        revocation: {
          accountJwt: readFileSync(auth.accountJwtFile, "utf8"),
          operatorKey: operatorSigningKey(readFileSync(auth.operatorSigningKeyFile, "utf8")),
          system: { credentialsFile: auth.systemCredsFile },
        },
      }),
    };
  }

  /** A namespace with an operator minting users and one VeltrixConfig in it. */
  async function tenant(prefix: string, natsUsers: NatsUserMinting): Promise<ConfigRef> {
    const ref = { namespace: await createNamespace(prefix), name: "pay" };
    const op: TestOperator = await startOperator(ref.namespace, auth.nats.url, {
      natsClient: { credentialsFile: auth.operatorCredsFile },
      natsUsers,
      statusRefreshMs: 60_000,
      maxBackoffMs: 1_000,
    });
    stops.push(() => op.stop());
    await createVxc(ref.namespace, ref.name, { queue: { mode: "sync" } });
    return ref;
  }

  /** The Secret's user and .creds once it exists (and, with `not`, holds another user). */
  async function secretOf(ref: ConfigRef, not?: string): Promise<{ user: string; creds: string }> {
    return eventually(`Secret of ${ref.namespace}/${ref.name}${not ? " with a new user" : ""}`, async () => {
      const s = await core().readNamespacedSecret({
        name: natsCredentialsSecretName(ref.name),
        namespace: ref.namespace,
      });
      const user = s.metadata?.annotations?.[natsCredentialsAnnotations.user];
      const data = s.data?.[natsCredentialsKey];
      if (!user || !data || user === not) return undefined;
      return { user, creds: Buffer.from(data, "base64").toString("utf8") };
    });
  }

  const logLines = (file: string, text: string): number =>
    existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l.includes(text)).length
      : 0;

  it("renews the user before it expires, and the sidecar keeps answering past the first user's expiry", async () => {
    // Six seconds of life: renewed at four, the first user expires at six.
    const ref = await tenant("renew", minting(6_000, false));
    const first = await secretOf(ref);
    const mount = join(dir, "mount-renew");
    mkdirSync(mount, { recursive: true });
    writeFileSync(join(mount, natsCredentialsKey), first.creds);
    const sc = await startSidecar({
      dir,
      name: "sc-renew",
      configFile: writeVeltrixConfig(dir, { ...ref, queue: { mode: "sync" } }, "renew.yaml"),
      appPort: app.port,
      natsUrl: auth.nats.url,
      extraArgs: ["--nats-credentials-dir", mount],
      ensureStream: false,
    });
    stops.push(() => sc.process.stop());
    expect((await fetch(`${sc.url}/order`, { method: "POST", body: "1" })).status).toBe(200);

    // What the kubelet does for a mounted Secret: the renewed file replaces the old one.
    const second = await secretOf(ref, first.user);
    const staged = join(mount, "creds.new");
    writeFileSync(staged, second.creds);
    copyFileSync(staged, join(mount, natsCredentialsKey));

    // nats-server closes the connection when the first user's JWT expires; the sidecar
    // connects again with the renewed file and still answers.
    const log = join(dir, "sc-renew.log");
    await eventually("nats-server closed the sidecar's connection at the first user's expiry", () =>
      Promise.resolve(logLines(log, "User Authentication Expired") > 0 || undefined),
    );
    await eventually("the sidecar back on NATS with the renewed user", () =>
      // Reconnected, or (when the renewal came late under load) connected afresh.
      Promise.resolve(
        logLines(log, "NATS reconnected") + logLines(log, "connected to NATS") > 1 || undefined,
      ),
    );
    expect((await fetch(`${sc.url}/order`, { method: "POST", body: "2" })).status).toBe(200);
    const reasons = (await events(ref.namespace, ref.name)).map((e) => e.reason);
    expect(reasons).toContain("CredentialsIssued");
    expect(reasons).toContain("CredentialsRenewed");
  }, 90_000);

  it("revokes the user when its VeltrixConfig is deleted: connected clients dropped, new ones refused", async () => {
    const ref = await tenant("revoke", minting(3_600_000, true));
    const { creds } = await secretOf(ref);
    const asUser = (): Promise<NatsConnection> =>
      connect({
        servers: auth.nats.url,
        authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
        inboxPrefix: inboxPrefix(ref),
        reconnect: false,
      });
    // The user works before: a connection that stays up until the revocation.
    const nc = await asUser();
    await nc.flush();
    const closed = nc.closed();

    await kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .deleteNamespacedCustomObject({ group, version, plural, namespace: ref.namespace, name: ref.name });
    await eventually("the Secret deleted", async () => {
      try {
        await core().readNamespacedSecret({
          name: natsCredentialsSecretName(ref.name),
          namespace: ref.namespace,
        });
        return undefined;
      } catch (err) {
        return (err as { code?: number }).code === 404 ? true : undefined;
      }
    });
    expect(String(await closed)).toMatch(/User Authentication Revoked/);
    await expect(asUser()).rejects.toThrow(/authori[sz]ation|revoked/i);
  }, 60_000);
});
