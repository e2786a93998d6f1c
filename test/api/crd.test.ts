// The CRD against the real API server: it is served with its printer columns and
// short name, the samples apply and get the schema defaults, bad resources are
// refused with messages a person understands.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { apiVersion, crdName, group, kind, plural, version } from "../../api/contract.ts";
import { installCrd } from "../../devenv/crd.ts";
import { configDocument } from "../../api/resolve.ts";
import type { VeltrixConfig } from "../../api/types.generated.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { createNamespace, kubeConfig } from "../harness/env.ts";

const samplesDir = join(repoRoot, "crds/samples");

/** The API server's Status message from a client-node ApiException. */
function errorText(err: unknown): string {
  const body = (err as { body?: unknown } | undefined)?.body;
  if (typeof body !== "string") return String(err);
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

describe("VeltrixConfig CRD (real kube-apiserver)", () => {
  let namespace: string;
  const custom = () => kubeConfig().makeApiClient(CustomObjectsApi);

  beforeAll(async () => {
    await installCrd(kubeConfig());
    namespace = await createNamespace("crd");
  });

  it("is served namespaced with short name vxc, status subresource and printer columns", async () => {
    const crd = await kubeConfig()
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: crdName });
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names.shortNames).toEqual(["vxc"]);
    const v = crd.spec.versions.find((x) => x.name === version);
    expect(v?.subresources?.status).toEqual({});
    expect(v?.additionalPrinterColumns?.map((c) => c.name)).toEqual([
      "Ready",
      "Mode",
      "Concurrency",
      "Revision",
      "Pods",
      "Queue",
      "Age",
    ]);
  });

  it("applies every sample in crds/samples and fills the schema defaults", async () => {
    const objects = KubernetesObjectApi.makeApiClient(kubeConfig());
    const files = readdirSync(samplesDir).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const body = parse(readFileSync(join(samplesDir, file), "utf8")) as VeltrixConfig;
      body.metadata = { ...body.metadata, namespace };
      await objects.patch(body, undefined, undefined, "crd-test", true, PatchStrategy.ServerSideApply);
      const stored = (await custom().getNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        name: body.metadata.name ?? "",
      })) as VeltrixConfig;
      expect(stored.spec?.queue?.mode, file).toMatch(/^(sync|async|direct)$/);
      expect(stored.spec?.queue?.overflow?.status, file).toBeOneOf([503, 429]);
      expect(stored.spec?.sidecar, file).toBeDefined();
      // What the API server defaulted equals what resolve.ts defaults: one revision either way.
      const ref = { namespace, name: body.metadata.name ?? "" };
      expect(configDocument(ref, stored.spec).revision, file).toBe(configDocument(ref, body.spec).revision);
    }
    const minimal = (await custom().getNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      name: "minimal",
    })) as VeltrixConfig;
    expect(minimal.spec?.queue).toMatchObject({
      mode: "sync",
      maxConcurrency: 10,
      maxWait: "30s",
      deletionPolicy: "Delete",
      stream: { storage: "file", replicas: 1, maxAge: "24h" },
    });
    // No default size or ports: the cluster defaults (chart) apply at injection when unset.
    expect(minimal.spec?.store).toEqual({ retention: "1h", volume: { kind: "emptyDir" } });
    expect(minimal.spec?.sidecar).toEqual({});
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ["unknown mode", { queue: { mode: "fast" } }, /spec.queue.mode: Unsupported value: "fast"/],
    ["zero concurrency", { queue: { maxConcurrency: 0 } }, /spec.queue.maxConcurrency: Invalid value: 0/],
    ["malformed duration", { queue: { maxWait: "10 seconds" } }, /spec.queue.maxWait in body should match/],
    [
      "stream maxAge below maxWait",
      { queue: { maxWait: "2m", stream: { maxAge: "1m" } } },
      /queue.stream.maxAge must be at least queue.maxWait/,
    ],
    [
      "async on memory storage",
      { queue: { mode: "async", stream: { storage: "memory" } } },
      /queue.mode async promises durable requests and needs queue.stream.storage file/,
    ],
    [
      "overflow status 500",
      { queue: { overflow: { status: 500 } } },
      /spec.queue.overflow.status: Unsupported value: 500/,
    ],
    [
      "same proxy and admin port",
      { sidecar: { ports: { proxy: 8080, admin: 8080 } } },
      /sidecar.ports.proxy and sidecar.ports.admin must differ/,
    ],
    [
      "storage class on emptyDir",
      { store: { volume: { kind: "emptyDir", storageClassName: "fast" } } },
      /store.volume.storageClassName applies only to volume kind ephemeral/,
    ],
    [
      "override without a match rule",
      { overrides: [{ name: "x", match: {}, config: { a: "b" } }] },
      /an override's match needs pathPrefix or at least one header/,
    ],
    [
      "relative path prefix",
      { overrides: [{ name: "x", match: { pathPrefix: "api" }, config: { a: "b" } }] },
      /match.pathPrefix must start with '\/'/,
    ],
    [
      "uppercase header name",
      { overrides: [{ name: "x", match: { headers: { "X-Beta": "1" } }, config: { a: "b" } }] },
      /match.headers keys must be lowercase HTTP header names/,
    ],
    [
      "duplicate override names",
      {
        overrides: [
          { name: "x", match: { pathPrefix: "/a" }, config: { a: "b" } },
          { name: "x", match: { pathPrefix: "/b" }, config: { a: "c" } },
        ],
      },
      /spec.overrides\[1\]: Duplicate value/,
    ],
    ["config key with a space", { config: { "a b": "c" } }, /config keys must be 1-253 characters/],
    ["zero retention", { store: { retention: "0s" } }, /store.retention must be greater than zero/],
  ];

  it.each(invalid)("refuses %s with a clear message", async (_what, spec, message) => {
    const err = await custom()
      .createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body: { apiVersion, kind, metadata: { name: "bad" }, spec },
        dryRun: "All",
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err, "the API server accepted an invalid VeltrixConfig").toBeDefined();
    expect(errorText(err)).toMatch(message);
  });

  it("refuses changing the stream storage of an existing VeltrixConfig", async () => {
    const target = { group, version, namespace, plural };
    await custom().createNamespacedCustomObject({
      ...target,
      body: { apiVersion, kind, metadata: { name: "storage" }, spec: {} },
    });
    const err = await custom()
      .patchNamespacedCustomObject(
        { ...target, name: "storage", body: { spec: { queue: { stream: { storage: "memory" } } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(errorText(err)).toMatch(/queue.stream.storage cannot be changed after creation/);
  });

  it("refuses a name that cannot name NATS subjects", async () => {
    const err = await custom()
      .createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body: { apiVersion, kind, metadata: { name: "has.dots" }, spec: {} },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(errorText(err)).toMatch(/metadata.name must be a DNS label/);
  });
});
