// The operator's own API client (operator/runtime/kube-client.ts, kube-api.ts) against the
// real kube-apiserver, with the operator's own kubeconfig reader: errors carry the status
// code and the API server's Status, patches go with the content type asked for, watches
// deliver events from a resourceVersion and end when stopped, and every request is counted.
import type { V1ConfigMap, V1Status } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import {
  ApiException,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
} from "../../../operator/runtime/kube-api.ts";
import { kubeWatch, type WatchEventType } from "../../../operator/runtime/kube-client.ts";
import { ObservedKubeConfig } from "../../../operator/runtime/kube-config.ts";
import { createNamespace, eventually } from "../../harness/env.ts";

function operatorKubeConfig(): ObservedKubeConfig {
  const kc = new ObservedKubeConfig();
  kc.loadFromFile(inject("kubeconfigPath"));
  return kc;
}

describe("the operator's API client (real kube-apiserver)", () => {
  it("answers 404 as an ApiException with the API server's Status", async () => {
    const namespace = await createNamespace("op-client-404");
    const core = new CoreV1Api(operatorKubeConfig());
    const err = await core.readNamespacedSecret({ name: "missing", namespace }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiException);
    const api = err as ApiException<V1Status>;
    expect(api.code).toBe(404);
    expect(api.body.reason).toBe("NotFound");
    expect(api.message).toContain('secrets \\"missing\\" not found');
  });

  it("creates, merge-patches and lists, counting each request", async () => {
    const namespace = await createNamespace("op-client-rw");
    const kc = operatorKubeConfig();
    const seen: string[] = [];
    kc.observer = (verb, resource) => seen.push(`${verb} ${resource}`);
    const core = new CoreV1Api(kc);
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "one", labels: { keep: "yes" } }, data: { a: "1", b: "2" } },
    });
    const patched = await core.patchNamespacedConfigMap(
      { name: "one", namespace, body: { data: { b: "3" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(patched.data).toEqual({ a: "1", b: "3" }); // merged, not replaced
    const list = await core.listNamespacedConfigMap({ namespace, labelSelector: "keep=yes" });
    expect(list.items.map((c) => c.metadata?.name)).toEqual(["one"]);
    expect(seen).toEqual(["POST configmaps", "PATCH configmaps", "GET configmaps"]);
  });

  it("watches from a list's resourceVersion and stops cleanly", async () => {
    const namespace = await createNamespace("op-client-watch");
    const kc = operatorKubeConfig();
    const core = new CoreV1Api(kc);
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "before" } } });
    const list = await core.listNamespacedConfigMap({ namespace });
    const events: [WatchEventType, string][] = [];
    const watch = await kubeWatch(
      kc,
      `/api/v1/namespaces/${namespace}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion ?? "", timeoutSeconds: 60 },
      (type, object) => events.push([type, (object as V1ConfigMap).metadata?.name ?? ""]),
    );
    try {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "after" } } });
      await eventually("the watch delivers the create", () =>
        events.some(([t, n]) => t === "ADDED" && n === "after") ? true : undefined,
      );
      // Only what happened after the list: "before" is not delivered again.
      expect(events.filter(([, n]) => n === "before")).toEqual([]);
    } finally {
      watch.stop();
    }
    await expect(watch.done).resolves.toBeUndefined();
  });
});
