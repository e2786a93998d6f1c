import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  VersionApi,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { createNamespace, eventually, kubeConfig } from "../harness/env.ts";
import { pinnedVersions } from "../../devenv/tools.ts";

describe("kube-apiserver + etcd + kube-controller-manager (real processes)", () => {
  it("serves the pinned Kubernetes version", async () => {
    const version = await kubeConfig().makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(pinnedVersions()["KUBERNETES_VERSION"]);
  });

  it("stores and returns a ConfigMap", async () => {
    const namespace = await createNamespace("smoke-cm");
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "settings" }, data: { answer: "42" } },
    });
    const cm = await core.readNamespacedConfigMap({ name: "settings", namespace });
    expect(cm.data).toEqual({ answer: "42" });
    expect(cm.metadata?.resourceVersion).toMatch(/^\d+$/);
  });

  it("establishes a CRD and serves its custom resources", async () => {
    const kc = kubeConfig();
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const group = `smoke${Date.now()}.example.com`;
    const crd: V1CustomResourceDefinition = {
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget" },
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  spec: {
                    type: "object",
                    properties: { size: { type: "integer", minimum: 1 } },
                    required: ["size"],
                  },
                },
              },
            },
          },
        ],
      },
    };
    await ext.createCustomResourceDefinition({ body: crd });
    await eventually("CRD Established", async () => {
      const got = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return (
        got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") || undefined
      );
    });
    const namespace = await createNamespace("smoke-crd");
    const custom = kc.makeApiClient(CustomObjectsApi);
    const target = { group, version: "v1", namespace, plural: "widgets" };
    await custom.createNamespacedCustomObject({
      ...target,
      body: { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w" }, spec: { size: 3 } },
    });
    // The schema is enforced by the real API server.
    await expect(
      custom.createNamespacedCustomObject({
        ...target,
        body: { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "bad" }, spec: { size: 0 } },
      }),
    ).rejects.toThrow(/spec.size/);
    await ext.deleteCustomResourceDefinition({ name: crd.metadata!.name! });
  });

  it("turns a Deployment into a ReplicaSet and a Pod (kube-controller-manager)", async () => {
    const namespace = await createNamespace("smoke-deploy");
    const kc = kubeConfig();
    const labels = { app: "web" };
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: "web", image: "registry.example/web:1" }] },
          },
        },
      },
    });
    const pod = await eventually("a pod for the Deployment", async () => {
      const pods = await kc
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace, labelSelector: "app=web" });
      return pods.items[0];
    });
    expect(pod.metadata?.ownerReferences?.[0]?.kind).toBe("ReplicaSet");
    expect(pod.status?.phase).toBe("Pending"); // no kubelet or scheduler, by design
  });
});
