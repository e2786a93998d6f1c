// The VeltrixConfig reconciler against a real kube-apiserver and nats-server: status,
// stream, consumer, KV and ConfigMap follow create / update / delete; a second
// reconcile writes nothing; a stream deleted behind the operator's back comes back;
// pods and the revisions real sidecars report are counted. Each test has its own
// VeltrixConfig (and the idempotency test its own operator), so any one runs alone
// and in any order.
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  configBucket,
  configKey,
  configMapKey,
  configMapName,
  labels,
  queueSubjectPrefix,
  streamName,
} from "../../../api/contract.ts";
import { type ConfigDocument, configDocument } from "../../../api/resolve.ts";
import { installCrd } from "../../../devenv/crd.ts";
import type { VeltrixConfigSpec } from "../../../api/types.generated.ts";
import { createNamespace, eventually, kubeConfig, natsUrl, tempDir } from "../../harness/env.ts";
import { startSidecar, type Sidecar } from "../../sidecar/helpers.ts";
import { freePort } from "../../../devenv/ports.ts";
import {
  condition,
  createVxc,
  custom,
  events,
  getVxc,
  readyVxc,
  startOperator,
  type TestOperator,
  updateSpec,
} from "../helpers.ts";
import { group, outcomeBucketName, plural, version } from "../../../api/contract.ts";

async function streamExists(jsm: JetStreamManager, name: string): Promise<boolean> {
  return jsm.streams.info(name).then(
    () => true,
    () => false,
  );
}

describe("VeltrixConfig reconciler (real kube-apiserver + nats-server)", () => {
  let namespace: string;
  let operator: TestOperator;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const core = () => kubeConfig().makeApiClient(CoreV1Api);
  const stops: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    await installCrd(kubeConfig());
    namespace = await createNamespace("op-reconcile");
    operator = await startOperator(namespace, natsUrl());
    nc = await connect({ servers: natsUrl() });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await operator?.stop();
    await nc?.drain();
  });

  /** A new VeltrixConfig in the shared namespace, once Ready. */
  async function readyConfig(name: string, spec: VeltrixConfigSpec = {}, ns = namespace) {
    await createVxc(ns, name, spec);
    return eventually(`${name} Ready`, () => readyVxc(ns, name));
  }

  it("creates stream, consumer, KV entry and ConfigMap, then reports Ready with observedGeneration", async () => {
    const spec = { config: { color: "blue" }, queue: { maxQueueDepth: 500, maxDeliver: 4 } };
    const ref = { namespace, name: "shop" };
    const vxc = await readyConfig("shop", spec);
    const doc = configDocument(ref, vxc.spec);
    expect(vxc.status?.revision).toBe(doc.revision);
    expect(vxc.metadata?.finalizers).toContain("veltrix.io/cleanup");
    // BodyFitsBroker: the harness's NATS takes 8 MB messages, the default maxBodyBytes is 1 MiB.
    for (const type of ["Ready", "StreamReady", "ConfigPublished", "BodyFitsBroker"]) {
      expect(condition(vxc, type)).toMatchObject({
        status: "True",
        observedGeneration: vxc.metadata?.generation,
      });
    }
    expect(vxc.status).toMatchObject({
      stream: streamName(ref),
      consumer: "sidecars",
      configMap: configMapName("shop"),
      pods: { injected: 0, inSync: 0, summary: "0/0" },
      queue: { depth: 0 },
    });

    const info = await jsm.streams.info(streamName(ref));
    expect(info.config).toMatchObject({
      retention: "workqueue",
      max_msgs: 500,
      subjects: [`${queueSubjectPrefix(ref)}.>`],
    });
    const consumer = await jsm.consumers.info(streamName(ref), "sidecars");
    expect(consumer.config).toMatchObject({
      durable_name: "sidecars",
      ack_policy: "explicit",
      max_deliver: 5, // maxDeliver + 1: the extra delivery dead-letters a request lost with its executor
    });
    // The async outcome bucket, its TTL the default store.retention (1h).
    const outcomes = await jsm.streams.info(`KV_${outcomeBucketName(ref)}`);
    expect(outcomes.config.max_age).toBe(3_600_000 * 1_000_000);

    const kv = await new Kvm(nc).open(configBucket);
    const entry = await kv.get(configKey(ref));
    expect(entry?.json<ConfigDocument>()).toEqual(doc);

    const cm = await core().readNamespacedConfigMap({ name: configMapName("shop"), namespace });
    expect(JSON.parse(cm.data?.[configMapKey] ?? "{}")).toEqual(doc);
    expect(cm.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "VeltrixConfig",
      name: "shop",
      uid: vxc.metadata?.uid,
    });

    const reasons = (await events(namespace, "shop")).map((e) => e.reason);
    expect(reasons).toContain("StreamCreated");
  });

  it("follows a spec update in place, keeping queued messages", async () => {
    const ref = { namespace, name: "upd" };
    const before = await readyConfig("upd", {
      config: { color: "blue" },
      queue: { maxQueueDepth: 500, maxDeliver: 4 },
    });
    const js = jetstream(nc);
    await js.publish(`${queueSubjectPrefix(ref)}.sync`, "queued-before-update", { msgID: "req-1" });
    const updated = await updateSpec(namespace, "upd", (s) => ({
      ...s,
      config: { color: "green" },
      queue: { ...s.queue, maxQueueDepth: 800, maxDeliver: 6 },
      store: { ...s.store, retention: "2h" },
    }));
    expect(updated.metadata?.generation).toBe((before.metadata?.generation ?? 0) + 1);
    const vxc = await eventually("upd Ready at the new generation", () => readyVxc(namespace, "upd"));
    const doc = configDocument(ref, vxc.spec);
    expect(vxc.status?.revision).toBe(doc.revision);
    expect(vxc.status?.revision).not.toBe(before.status?.revision);

    const info = await jsm.streams.info(streamName(ref));
    expect(info.config.max_msgs).toBe(800);
    expect(info.state.messages).toBe(1); // updated in place: the queued request is still there
    expect((await jsm.consumers.info(streamName(ref), "sidecars")).config.max_deliver).toBe(7);
    const outcomes = await jsm.streams.info(`KV_${outcomeBucketName(ref)}`);
    expect(outcomes.config.max_age).toBe(2 * 3_600_000 * 1_000_000); // follows store.retention
    expect(vxc.status?.queue?.depth).toBe(1);

    const kv = await new Kvm(nc).open(configBucket);
    expect((await kv.get(configKey(ref)))?.json<ConfigDocument>().config).toEqual({ color: "green" });
    const cm = await core().readNamespacedConfigMap({ name: configMapName("upd"), namespace });
    expect(cm.data?.["revision"]).toBe(doc.revision);
    const reasons = (await events(namespace, "upd")).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["StreamUpdated", "ConfigPublished"]));
  });

  it("a second reconcile changes nothing", async () => {
    // Its own namespace and operator: the write count below is this config's alone.
    const ns = await createNamespace("op-idem");
    const own = await startOperator(ns, natsUrl());
    stops.push(() => own.stop());
    await readyConfig("idem", { config: { color: "blue" } }, ns);
    const ref = { namespace: ns, name: "idem" };
    const key = `${ns}/idem`;
    await own.op.reconcileOnce(key); // settle: whatever the first pass does
    const writes = async (): Promise<number> => {
      const m = await own.op.metrics.apiRequests.get();
      return m.values
        .filter((v) => v.labels.verb !== "GET" && v.labels.verb !== "WATCH")
        .reduce((a, v) => a + v.value, 0);
    };
    const vxcBefore = await getVxc(ns, "idem");
    const cmBefore = await core().readNamespacedConfigMap({ name: configMapName("idem"), namespace: ns });
    const streamBefore = await jsm.streams.info(streamName(ref));
    const kv = await new Kvm(nc).open(configBucket);
    const kvBefore = (await kv.get(configKey(ref)))?.revision;
    const writesBefore = await writes();
    expect(writesBefore).toBeGreaterThan(0); // the counter counts: creating the config wrote

    await own.op.reconcileOnce(key);

    expect(await writes()).toBe(writesBefore);
    expect((await getVxc(ns, "idem")).metadata?.resourceVersion).toBe(vxcBefore.metadata?.resourceVersion);
    expect(
      (await core().readNamespacedConfigMap({ name: configMapName("idem"), namespace: ns })).metadata
        ?.resourceVersion,
    ).toBe(cmBefore.metadata?.resourceVersion);
    expect((await jsm.streams.info(streamName(ref))).config).toEqual(streamBefore.config);
    expect((await kv.get(configKey(ref)))?.revision).toBe(kvBefore);
  });

  it("recreates a stream deleted behind its back", async () => {
    const ref = { namespace, name: "lost" };
    await readyConfig("lost");
    await jsm.streams.delete(streamName(ref));
    await eventually("stream recreated", async () =>
      (await streamExists(jsm, streamName(ref))) ? true : undefined,
    );
    await eventually("consumer recreated", async () =>
      (await jsm.consumers.info(streamName(ref), "sidecars").catch(() => undefined)) ? true : undefined,
    );
    await eventually("StreamRecreated event", async () =>
      (await events(namespace, "lost")).some((e) => e.reason === "StreamRecreated") ? true : undefined,
    );
    // and a consumer alone
    await jsm.consumers.delete(streamName(ref), "sidecars");
    await eventually("consumer recreated again", async () =>
      (await jsm.consumers.info(streamName(ref), "sidecars").catch(() => undefined)) ? true : undefined,
    );
  });

  it("recreates its ConfigMap when someone deletes it", async () => {
    await readyConfig("cm");
    const name = configMapName("cm");
    const before = await core().readNamespacedConfigMap({ name, namespace });
    await core().deleteNamespacedConfigMap({ name, namespace });
    const after = await eventually("ConfigMap recreated", async () => {
      const cm = await core().readNamespacedConfigMap({ name, namespace });
      return cm.metadata?.uid !== before.metadata?.uid ? cm : undefined;
    });
    expect(after.data).toEqual(before.data);
  });

  it("counts pods naming the config, and those Ready whose real sidecar reports the current revision", async () => {
    const name = "counted";
    await readyConfig(name, { config: { color: "blue" }, queue: { mode: "direct" } });
    for (const pod of ["counted-a", "counted-b"]) {
      await core().createNamespacedPod({
        namespace,
        body: {
          metadata: { name: pod, labels: { [labels.config]: name } },
          spec: { containers: [{ name: "app", image: "registry.example/app:1" }] },
        },
      });
    }
    const summary = (want: string) =>
      eventually(`${want} in sync`, async () => {
        const v = await getVxc(namespace, name);
        return v.status?.pods?.summary === want ? v : undefined;
      });
    await summary("0/2");

    // Real sidecars, as the webhook starts them: no config file, the config's name, the
    // pod's name; each fetches the revision from NATS KV and reports what it applied.
    const dir = tempDir("reconcile-sidecars");
    const appPort = await freePort(); // the app is never called here
    const sidecar = async (pod: string): Promise<Sidecar> => {
      const sc = await startSidecar({
        dir,
        name: pod,
        configFile: join(dir, "absent.json"),
        appPort,
        natsUrl: natsUrl(),
        ensureStream: false,
        extraArgs: ["--namespace", namespace, "--name", name],
      });
      stops.push(() => sc.process.stop());
      return sc;
    };
    // No kubelet here: the test sets the pods' Ready condition as a kubelet would.
    const setReady = (pod: string, ready: boolean) =>
      core().patchNamespacedPodStatus({
        name: pod,
        namespace,
        body: [
          {
            op: "add",
            path: "/status/conditions",
            value: [{ type: "Ready", status: ready ? "True" : "False" }],
          },
        ],
      });
    const a = await sidecar("counted-a");
    // a's sidecar applied the revision, but the pod is not Ready yet (still starting): not counted.
    const current = (await getVxc(namespace, name)).status?.revision;
    await eventually("a's sidecar at the current revision", async () =>
      ((await (await fetch(`${a.admin}/v1/config`)).json()) as { revision: string }).revision === current
        ? true
        : undefined,
    );
    expect((await getVxc(namespace, name)).status?.pods?.summary).toBe("0/2");
    // Ready: now it counts (the positive control: its report was there all along).
    await setReady("counted-a", true);
    expect((await summary("1/2")).status?.pods).toEqual({ injected: 2, inSync: 1, summary: "1/2" });
    await setReady("counted-b", true);
    const b = await sidecar("counted-b");
    await summary("2/2");
    // A pod that stops being Ready stops counting, whatever its sidecar reports.
    await setReady("counted-b", false);
    await summary("1/2");
    await setReady("counted-b", true);
    await summary("2/2");

    // A new revision: both sidecars apply and report it.
    await updateSpec(namespace, name, (s) => ({ ...s, config: { color: "green" } }));
    const green = await eventually("Ready at the new revision", () => readyVxc(namespace, name));
    await eventually("2/2 at the new revision", async () => {
      const v = await getVxc(namespace, name);
      return v.status?.pods?.summary === "2/2" && v.status.revision === green.status?.revision
        ? v
        : undefined;
    });
    // A stopped sidecar keeps reporting the revision it had: one behind after the next.
    await b.process.stop();
    await updateSpec(namespace, name, (s) => ({ ...s, config: { color: "violet" } }));
    const violet = await eventually("Ready at the third revision", () => readyVxc(namespace, name));
    expect(violet.status?.revision).not.toBe(green.status?.revision);
    await summary("1/2");
    const applied = async (sc: Sidecar) =>
      ((await (await fetch(`${sc.admin}/v1/config`)).json()) as { revision: string }).revision;
    expect(await applied(a)).toBe(violet.status?.revision);
  });

  it("on delete removes the stream, the outcome bucket and the KV entry (deletionPolicy Delete) and releases the finalizer", async () => {
    const ref = { namespace, name: "doomed" };
    await readyConfig("doomed");
    expect(await streamExists(jsm, streamName(ref))).toBe(true);
    expect(await streamExists(jsm, `KV_${outcomeBucketName(ref)}`)).toBe(true);
    await custom().deleteNamespacedCustomObject({ group, version, namespace, plural, name: "doomed" });
    await eventually("doomed gone", async () =>
      (await getVxc(namespace, "doomed").catch(() => undefined)) ? undefined : true,
    );
    expect(await streamExists(jsm, streamName(ref))).toBe(false);
    expect(await streamExists(jsm, `KV_${outcomeBucketName(ref)}`)).toBe(false);
    const kv = await new Kvm(nc).open(configBucket);
    const entry = await kv.get(configKey(ref));
    expect(entry === null || entry.operation !== "PUT").toBe(true);
  });

  it("keeps the stream on delete with deletionPolicy Retain", async () => {
    const ref = { namespace, name: "keep" };
    await readyConfig("keep", { queue: { deletionPolicy: "Retain" } });
    await custom().deleteNamespacedCustomObject({ group, version, namespace, plural, name: "keep" });
    await eventually("keep gone", async () =>
      (await getVxc(namespace, "keep").catch(() => undefined)) ? undefined : true,
    );
    expect(await streamExists(jsm, streamName(ref))).toBe(true);
    expect((await events(namespace, "keep")).map((e) => e.reason)).toContain("StreamRetained");
    await jsm.streams.delete(streamName(ref));
  });
});
