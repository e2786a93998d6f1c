// The bundled NATS's auth as the chart sets it up: the operator (its real process) makes the
// installation's NATS keys at first start (--nats-auth-secret with --nats-auth-generate),
// nats-server starts with the auth.conf from that Secret (as the bundled StatefulSet mounts
// it), admits no client without credentials, and a VeltrixConfig in a new namespace gets
// its sidecar user minted with no other step. The operator's own user is not a sidecar's.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  inboxPrefix,
  natsCredentialsKey,
  natsCredentialsSecretName,
  streamName,
} from "../../../api/contract.ts";
import { installCrd } from "../../../devenv/crd.ts";
import { type NatsServer, startNats } from "../../../devenv/nats.ts";
import { freePort } from "../../../devenv/ports.ts";
import type { ManagedProcess } from "../../../devenv/process.ts";
import { createVeltrixConfig } from "../../../devenv/veltrixconfig-client.ts";
import { natsAuthKeys } from "../../../operator/nats-identity/nats-auth-secret.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { operatorProcess } from "../../harness/operator-process.ts";
import { readyVxc } from "../helpers.ts";

describe("bundled NATS auth made by the operator (operator process, own nats-server)", () => {
  let operator: ManagedProcess;
  let nats: NatsServer | undefined;
  let home: string;
  let apps: string;
  let natsPort: number;
  let dir: string;
  const secretName = "veltrix-nats-auth";
  const core = () => kubeConfig().makeApiClient(CoreV1Api);

  beforeAll(async () => {
    await installCrd(kubeConfig());
    dir = tempDir("bundled-auth");
    home = await createNamespace("vx-auth-home");
    apps = await createNamespace("vx-auth-apps");
    natsPort = await freePort();
    operator = operatorProcess({
      name: "op-auth",
      logDir: dir,
      namespace: home,
      watchNamespace: apps,
      httpPort: await freePort(),
      args: [
        `--nats-url=nats://127.0.0.1:${natsPort}`,
        `--nats-auth-secret=${secretName}`,
        "--nats-auth-generate=true",
        "--webhook-cert-mode=disabled",
        "--leader-elect=false",
        "--max-backoff=1s",
      ],
    });
    operator.start();
  });
  afterAll(async () => {
    await operator?.stop();
    await nats?.stop();
  });

  it("makes the keys, nats-server admits only users they sign, and a new namespace's config gets its user", async () => {
    const secret = await eventually("the operator made the NATS auth Secret", async () => {
      try {
        return await core().readNamespacedSecret({ name: secretName, namespace: home });
      } catch {
        return undefined;
      }
    });
    const text = (key: string): string => Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(Object.values(natsAuthKeys).sort());
    // As the bundled StatefulSet does: nats-server includes auth.conf from the Secret.
    nats = await startNats({
      dir,
      name: "nats-bundled",
      port: natsPort,
      extraConfig: text(natsAuthKeys.serverConfig),
    });

    // No credentials, no connection.
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/authori[sz]ation/i);

    const ref = { namespace: apps, name: "pay" };
    await createVeltrixConfig(kubeConfig(), apps, ref.name, { queue: { mode: "sync" } });
    await eventually("pay Ready", () => readyVxc(apps, ref.name));
    const minted = await eventually("the sidecar user minted", async () => {
      try {
        const s = await core().readNamespacedSecret({
          name: natsCredentialsSecretName(ref.name),
          namespace: apps,
        });
        return s.data?.[natsCredentialsKey];
      } catch {
        return undefined;
      }
    });
    const creds = Buffer.from(minted, "base64");
    // The minted user reaches its own stream and is not the operator's user.
    const nc = await connect({
      servers: nats.url,
      authenticator: credsAuthenticator(creds),
      inboxPrefix: inboxPrefix(ref),
    });
    const info = await (await jetstreamManager(nc)).streams.info(streamName(ref));
    expect(info.config.name).toBe(streamName(ref));
    await nc.close();
    expect(creds.toString("utf8")).not.toBe(text(natsAuthKeys.operatorCreds));
    const log = readFileSync(join(dir, "op-auth.log"), "utf8");
    expect(log).toMatch(
      /NATS keys from the auth Secret.*"filled":\["nats-credentials","nats-account-signing-key"/,
    );
  }, 90_000);
});
