// NATS goes away: Ready turns False with a reason and a message, the ConfigMap keeps
// following the spec (the sidecars' boot fallback), and when NATS comes back the
// operator recovers by itself. Uses its own nats-server so stopping it hurts no one.
import { CoreV1Api } from "@kubernetes/client-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configMapName, streamName } from "../../../api/contract.ts";
import { configDocument } from "../../../api/resolve.ts";
import { installCrd } from "../../../devenv/crd.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { type NatsServer, startNats } from "../../../devenv/nats.ts";
import {
  condition,
  createVxc,
  events,
  getVxc,
  readyVxc,
  startOperator,
  type TestOperator,
  updateSpec,
} from "../helpers.ts";

describe("NATS outage (own nats-server)", () => {
  let nats: NatsServer;
  let namespace: string;
  let operator: TestOperator;

  beforeAll(async () => {
    await installCrd(kubeConfig());
    nats = await startNats({ dir: tempDir("op-nats-outage") });
    namespace = await createNamespace("op-outage");
    operator = await startOperator(namespace, nats.url, { statusRefreshMs: 1_000, maxBackoffMs: 1_000 });
  });
  afterAll(async () => {
    await operator?.stop();
    await nats?.stop();
  });

  it("sets Ready=False with a reason while NATS is down, then recovers by itself", async () => {
    await createVxc(namespace, "api", { config: { v: "1" } });
    await eventually("api Ready", () => readyVxc(namespace, "api"));

    await nats.stop();
    const down = await eventually("Ready=False", async () => {
      const v = await getVxc(namespace, "api");
      return condition(v, "Ready")?.status === "False" ? v : undefined;
    });
    expect(condition(down, "Ready")?.reason).toMatch(/^Nats(Unavailable|Error)$/);
    expect(condition(down, "Ready")?.message).not.toBe("");
    expect(condition(down, "StreamReady")?.status).toBe("False");
    expect(condition(down, "ConfigPublished")?.status).toBe("False");

    // The spec changes while NATS is down: the ConfigMap (boot fallback) still follows.
    const changed = await updateSpec(namespace, "api", (s) => ({ ...s, config: { v: "2" } }));
    const revision = configDocument({ namespace, name: "api" }, changed.spec).revision;
    await eventually("ConfigMap at the new revision", async () => {
      const cm = await kubeConfig()
        .makeApiClient(CoreV1Api)
        .readNamespacedConfigMap({ name: configMapName("api"), namespace });
      return cm.data?.["revision"] === revision ? true : undefined;
    });
    const stillDown = await eventually("status at the new revision", async () => {
      const v = await getVxc(namespace, "api");
      return v.status?.revision === revision ? v : undefined;
    });
    expect(condition(stillDown, "Ready")?.status).toBe("False");
    expect(condition(stillDown, "ConfigPublished")?.message).toContain(revision);
    expect(
      (await events(namespace, "api")).some((e) => e.type === "Warning" && /^Nats/.test(e.reason ?? "")),
    ).toBe(true);

    await nats.start();
    const back = await eventually("Ready=True again", () => readyVxc(namespace, "api"), 60_000);
    expect(back.status?.revision).toBe(revision);
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(streamName({ namespace, name: "api" }))).config.name).toBe(
        streamName({ namespace, name: "api" }),
      );
    } finally {
      await nc.close();
    }
  });
});
