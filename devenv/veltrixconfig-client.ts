// Typed create/get of VeltrixConfig resources through client-node's CustomObjectsApi,
// for tests, benchmarks and the local stack (the operator itself reads through its informer).
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiVersion, group, kind, plural, version } from "../api/contract.ts";
import type { VeltrixConfig, VeltrixConfigSpec } from "../api/types.generated.ts";

export async function createVeltrixConfig(
  kc: KubeConfig,
  namespace: string,
  name: string,
  spec: VeltrixConfigSpec,
): Promise<VeltrixConfig> {
  return (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group,
    version,
    namespace,
    plural,
    body: { apiVersion, kind, metadata: { name }, spec },
  })) as VeltrixConfig;
}

export async function getVeltrixConfig(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<VeltrixConfig> {
  return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group,
    version,
    namespace,
    plural,
    name,
  })) as VeltrixConfig;
}
