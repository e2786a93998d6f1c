// Tenant isolation with the users the operator mints (issue 20): a real nats-server with
// NATS decentralised auth (devenv/decentralised-nats.ts: nothing in its config names a
// tenant), an operator per namespace minting each VeltrixConfig's user into a Secret, and
// real sidecars in namespaces A and B running on the .creds file from their Secret. With
// B's user, every way into A's traffic is tried (inbox and reply wildcards, the queue, the
// stream and its consumer, the outcome and config buckets, the JetStream API); each
// attempt's outcome is printed as a table, all must be refused, and A keeps serving.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfigRef,
  inboxPrefix,
  natsCredentialsAnnotations,
  natsCredentialsKey,
  natsCredentialsSecretName,
  streamName,
} from "../../../api/contract.ts";
import { installCrd } from "../../../devenv/crd.ts";
import { type DecentralisedNats, startDecentralisedNats } from "../../../devenv/decentralised-nats.ts";
import { accountSigner } from "../../../operator/nats-identity/mint.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { type App, startApp, startSidecar, type Sidecar, writeVeltrixConfig } from "../../sidecar/helpers.ts";
import { createVxc, readyVxc, startOperator, type TestOperator } from "../helpers.ts";
import { attemptsTable, tryEverythingOf, tryRequest, trySubscribe } from "./attempts.ts";

describe("tenant isolation with minted NATS users (own nats-server, decentralised auth)", () => {
  let dir: string;
  let auth: DecentralisedNats;
  let app: App;
  const operators: TestOperator[] = [];
  const sidecars: Sidecar[] = [];
  let a: ConfigRef;
  let b: ConfigRef;

  /** The .creds file the operator minted for `ref`, once its Secret exists. */
  async function mintedCreds(ref: ConfigRef): Promise<string> {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    return eventually(`Secret ${natsCredentialsSecretName(ref.name)} in ${ref.namespace}`, async () => {
      const s = await core.readNamespacedSecret({
        name: natsCredentialsSecretName(ref.name),
        namespace: ref.namespace,
      });
      const data = s.data?.[natsCredentialsKey];
      return data && Buffer.from(data, "base64").toString("utf8");
    });
  }

  /** A sidecar of `ref` as the webhook injects it: the Secret mounted as its credentials directory. */
  async function sidecarOf(ref: ConfigRef, creds: string): Promise<Sidecar> {
    const secretDir = join(dir, "secrets", ref.namespace);
    mkdirSync(secretDir, { recursive: true });
    writeFileSync(join(secretDir, natsCredentialsKey), creds);
    const sc = await startSidecar({
      dir,
      name: `sc-${ref.namespace}`,
      configFile: writeVeltrixConfig(dir, { ...ref, queue: { mode: "sync" } }, `${ref.namespace}.yaml`),
      appPort: app.port,
      natsUrl: auth.nats.url,
      extraArgs: ["--nats-credentials-dir", secretDir],
      ensureStream: false,
    });
    sidecars.push(sc);
    return sc;
  }

  const asOperator = (): Promise<NatsConnection> =>
    connect({
      servers: auth.nats.url,
      authenticator: credsAuthenticator(readFileSync(auth.operatorCredsFile)),
    });

  beforeAll(async () => {
    await installCrd(kubeConfig());
    dir = tempDir("tenant-isolation");
    auth = await startDecentralisedNats({ dir, name: "nats-tenants" });
    app = await startApp(dir);
    const natsUsers = {
      signer: accountSigner(readFileSync(auth.accountSigningKeyFile, "utf8"), auth.account),
      validityMs: 3_600_000,
    };
    a = { namespace: await createNamespace("tenant-a"), name: "pay" };
    b = { namespace: await createNamespace("tenant-b"), name: "shop" };
    for (const ref of [a, b]) {
      operators.push(
        await startOperator(ref.namespace, auth.nats.url, {
          natsClient: { credentialsFile: auth.operatorCredsFile },
          natsUsers,
          statusRefreshMs: 1_000,
          maxBackoffMs: 1_000,
        }),
      );
      await createVxc(ref.namespace, ref.name, { queue: { mode: "sync" } });
    }
  });
  afterAll(async () => {
    for (const sc of sidecars) await sc.process.stop().catch(() => undefined);
    for (const op of operators) await op.stop();
    await app?.process.stop();
    await auth?.nats.stop();
  });

  it("B's minted user reaches nothing of A, and A's traffic keeps flowing", async () => {
    for (const ref of [a, b]) await eventually(`${ref.name} Ready`, () => readyVxc(ref.namespace, ref.name));
    const scA = await sidecarOf(a, await mintedCreds(a));
    const credsB = await mintedCreds(b);
    const scB = await sidecarOf(b, credsB);

    // Both tenants work with their own users: the refusals below are not broken credentials.
    const order = async (sc: Sidecar, body: string): Promise<number> =>
      (await fetch(`${sc.url}/order`, { method: "POST", body })).status;
    expect(await order(scA, "a-1")).toBe(200);
    expect(await order(scB, "b-1")).toBe(200);

    const admin = await asOperator();
    const jsm = await jetstreamManager(admin);
    const lastSeq = async (): Promise<number> => (await jsm.streams.info(streamName(a))).state.last_seq;
    const seqBefore = await lastSeq();

    // B's user, on B's own inboxes as B's sidecars are.
    const nc = await connect({
      servers: auth.nats.url,
      authenticator: credsAuthenticator(new TextEncoder().encode(credsB)),
      inboxPrefix: inboxPrefix(b),
    });
    const attempts = await tryEverythingOf(nc, a);

    // Positive controls on the same connection: B's own inbox and queue are allowed.
    const ownInbox = await trySubscribe(nc, "control: B's own inboxes", `${inboxPrefix(b)}.>`);
    const ownStream = await tryRequest(
      nc,
      "control: B's own stream info",
      `$JS.API.STREAM.INFO.${streamName(b)}`,
    );
    console.log(`\nAttempts with namespace ${b.namespace}'s minted user on ${a.namespace}:\n`);
    console.log(attemptsTable([...attempts, ownInbox, ownStream]));
    await nc.close();

    expect(ownInbox.refused).toBe(false);
    expect(ownStream.outcome).toBe("answered");
    expect(attempts.filter((t) => !t.refused)).toEqual([]);

    // A still serves, and B put nothing into A's queue: its stream grew by A's request only.
    expect(await order(scA, "a-2")).toBe(200);
    expect(await lastSeq()).toBe(seqBefore + 1);
    await admin.close();
  }, 120_000);

  it("each config's Secret names its own user, and no two configs share one", async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const users = await Promise.all(
      [a, b].map(async (ref) => {
        await mintedCreds(ref);
        const s = await core.readNamespacedSecret({
          name: natsCredentialsSecretName(ref.name),
          namespace: ref.namespace,
        });
        return s.metadata?.annotations?.[natsCredentialsAnnotations.user];
      }),
    );
    expect(users.every((u) => /^U[A-Z2-7]{55}$/.test(u ?? ""))).toBe(true);
    expect(new Set(users).size).toBe(2);
  });
});
