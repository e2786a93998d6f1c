// The informer supervisor against the real API server: list errors (which stop
// client-node's ListWatch for good) are followed by restarts until the cache syncs,
// and the cache then follows changes and hands every object back on resync.
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { CoreV1Api, KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { type InformerEvent, SupervisedInformer } from "../../../operator/runtime/informer.ts";
import { createLogger } from "../../../lib/log.ts";
import { createNamespace, eventually, kubeConfig } from "../../harness/env.ts";

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

  it("restarts after the watch connection breaks (a non-410 error) and catches up on what it missed", async () => {
    const namespace = await createNamespace("op-informer-cut");
    const admin = kubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    // A TCP proxy in front of the API server that the test can cut (TLS passes through).
    const upstream = new URL(admin.getCurrentCluster()?.server ?? "");
    const sockets = new Set<Socket>();
    let server: Server | undefined;
    const listen = (port: number): Promise<number> =>
      new Promise((resolve) => {
        server = createServer((client) => {
          const up = tcpConnect(Number(upstream.port), upstream.hostname);
          for (const s of [client, up]) {
            sockets.add(s);
            s.on("error", () => undefined);
            s.on("close", () => sockets.delete(s));
          }
          client.pipe(up).pipe(client);
        });
        server.listen(port, "127.0.0.1", () => {
          const a = server?.address();
          resolve(typeof a === "object" && a ? a.port : 0);
        });
      });
    const cut = async (): Promise<void> => {
      await new Promise<void>((resolve) => {
        server?.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    };
    const port = await listen(0);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: admin.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` })),
      users: admin.users,
      contexts: admin.contexts,
      currentContext: admin.currentContext,
    });
    let restarts = 0;
    const proxied = kc.makeApiClient(CoreV1Api);
    const inf = new SupervisedInformer<V1ConfigMap>({
      name: "cut",
      kc,
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      list: () => proxied.listNamespacedConfigMap({ namespace }),
      log: createLogger({ sink: () => undefined }),
      onEvent: () => undefined,
      minRestartMs: 50,
      maxRestartMs: 500,
      resyncMs: 0,
      onRestart: () => restarts++,
    });
    try {
      await inf.start();
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "before" } } });
      await eventually("sees 'before'", () => Promise.resolve(inf.get("before", namespace)));

      await cut(); // the watch connection dies; ListWatch on its own would stop here for good
      await eventually("a restart attempt", () => Promise.resolve(restarts > 0 || undefined));
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "during" } } });
      await listen(port); // the API server is reachable again

      await eventually("catches up on 'during'", () => Promise.resolve(inf.get("during", namespace)), 20_000);
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "after" } } });
      await eventually("watches again ('after')", () => Promise.resolve(inf.get("after", namespace)), 20_000);
    } finally {
      await inf.stop();
      await cut();
    }
  });
});
