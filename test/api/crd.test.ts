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
import { invalidCases, updateOnlyRules } from "./invalid-configs.ts";

const samplesDir = join(repoRoot, "crds/samples");

/** The causes in the API server's Status (field and message each). */
function errorCauses(err: unknown): { field: string | undefined; message: string }[] {
  const body = (err as { body?: unknown } | undefined)?.body;
  if (typeof body !== "string") return [];
  const status = JSON.parse(body) as { details?: { causes?: { field?: string; message?: string }[] } };
  return (status.details?.causes ?? []).map((c) => ({ field: c.field, message: c.message ?? "" }));
}

/** Every CEL rule's message in crds/veltrixconfig.yaml (what docs/crd.md's rules table lists). */
function crdRuleMessages(): string[] {
  const messages: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (typeof node === "object" && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === "x-kubernetes-validations") {
          for (const rule of value as { message: string }[]) messages.push(rule.message.replace(/\s+/g, " "));
        } else walk(value);
      }
    }
  };
  walk(parse(readFileSync(join(repoRoot, "crds/veltrixconfig.yaml"), "utf8")));
  return messages;
}

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

  it("has an invalid case for every rule in the CRD (docs/crd.md's rules table)", () => {
    const covered = [...invalidCases.map((c) => c.message), ...updateOnlyRules];
    const uncovered = crdRuleMessages().filter((rule) => !covered.some((m) => rule.includes(m)));
    expect(uncovered).toEqual([]);
  });

  it.each(invalidCases.map((c) => [c.what, c] as const))(
    "refuses %s with a message about that field only",
    async (_what, c) => {
      const err = await custom()
        .createNamespacedCustomObject({
          group,
          version,
          namespace,
          plural,
          body: { apiVersion, kind, metadata: { name: c.name ?? "bad" }, spec: c.spec },
          dryRun: "All",
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err, "the API server accepted an invalid VeltrixConfig").toBeDefined();
      const text = errorText(err);
      expect(text).toContain(c.message);
      expect(text).not.toMatch(/type conversion error|unknown field|evaluating rule/);
      // Every cause is about the case's field, except the server's note that CEL rules were
      // skipped because the schema check failed first.
      const causes = errorCauses(err).filter(
        (cause) => !cause.message.includes("some validation rules were not checked"),
      );
      expect(causes.map((cause) => cause.field)).toEqual(causes.map(() => c.field));
      expect(causes.some((cause) => cause.message.includes(c.message))).toBe(true);
    },
  );

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
});
