// Applies crds/veltrixconfig.yaml to a cluster (server-side apply, like
// `kubectl apply --server-side`) and waits until the API server serves it.
// Used by tests and the benchmark (the Helm chart installs the CRD in clusters).
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiextensionsV1Api,
  type KubeConfig,
  KubernetesObjectApi,
  loadYaml,
  PatchStrategy,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { crdName } from "../api/contract.ts";
import { crdPath } from "../scripts/generate-api.ts";

export function readCrd(path = crdPath): V1CustomResourceDefinition {
  // loadYaml maps the YAML keys onto client-node's model ("x-kubernetes-validations" →
  // xKubernetesValidations, "default" → _default); a plain parse would be serialized
  // without them, silently dropping defaults and CEL rules.
  return loadYaml<V1CustomResourceDefinition>(readFileSync(path, "utf8"));
}

export async function installCrd(kc: KubeConfig, timeoutMs = 30_000): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const crd = readCrd();
  await objects.patch(crd, undefined, undefined, "veltrix-install", true, PatchStrategy.ServerSideApply);
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await ext.readCustomResourceDefinition({ name: crdName });
    const established = got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    if (established) return;
    if (Date.now() > deadline) throw new Error(`CRD ${crdName} not Established within ${timeoutMs} ms`);
    await sleep(100);
  }
}
