// The informer supervisor against the real API server: list errors (which stop
// client-node's ListWatch for good) are followed by restarts until the cache syncs,
// and the cache then follows changes and hands every object back on resync.
import { CoreV1Api, type V1ConfigMap } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { type InformerEvent, SupervisedInformer } from "../../operator/controller/informer.ts";
import { createLogger } from "../../operator/controller/log.ts";
import { createNamespace, eventually, kubeConfig } from "../harness/env.ts";

describe("SupervisedInformer (real kube-apiserver)", () => {
  it("restarts list+watch after errors, then follows changes and resyncs", async () => {
    const namespace = await createNamespace("op-informer");
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "one" }, data: { a: "1" } },
    });
    let failuresLeft = 2;
    let restarts = 0;
    const seen: [InformerEvent, string][] = [];
    const warnings: string[] = [];
    const inf = new SupervisedInformer<V1ConfigMap>({
      name: "test",
      kc: kubeConfig(),
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      list: () => {
        if (failuresLeft-- > 0) return Promise.reject(new Error("injected list failure"));
        return core.listNamespacedConfigMap({ namespace });
      },
      log: createLogger({ sink: (l) => warnings.push(l), level: "warn" }),
      onEvent: (o, e) => seen.push([e, o.metadata?.name ?? ""]),
      minRestartMs: 20,
      resyncMs: 0,
      onRestart: () => restarts++,
    });
    try {
      await inf.start();
      expect(restarts).toBe(2);
      expect(warnings.some((w) => w.includes("injected list failure"))).toBe(true);
      expect(inf.hasSynced).toBe(true);
      expect(inf.get("one", namespace)?.data).toEqual({ a: "1" });

      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "two" } } });
      await eventually("watch delivers the new object", () => Promise.resolve(inf.get("two", namespace)));
      expect(seen).toContainEqual(["add", "two"]);

      seen.length = 0;
      inf.resync();
      expect(seen.map(([e, n]) => `${e}:${n}`)).toEqual(expect.arrayContaining(["resync:one", "resync:two"]));
    } finally {
      await inf.stop();
    }
  });
});
