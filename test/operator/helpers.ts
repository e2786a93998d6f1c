// Shared pieces of the operator tests: an in-process Operator scoped to one namespace
// (so parallel test files never reconcile each other's objects), typed access to
// VeltrixConfigs, and small readers for conditions and Events.
import { CoreV1Api, CustomObjectsApi, type CoreV1Event } from "@kubernetes/client-node";
import { createVeltrixConfig, getVeltrixConfig } from "../../devenv/veltrixconfig-client.ts";
import { group, plural, version } from "../../api/contract.ts";
import type { VeltrixConfig, VeltrixConfigSpec } from "../../api/types.generated.ts";
import { ObservedKubeConfig } from "../../operator/runtime/kube-config.ts";
import { createLogger } from "../../lib/log.ts";
import { Operator, type OperatorOptions } from "../../operator/operator.ts";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";
import { kubeConfig, tempDir } from "../harness/env.ts";

/** The operator's own kubeconfig (operator/runtime/kube-config.ts); the tests' side uses client-node's. */
export function observedKubeConfig(): ObservedKubeConfig {
  const kc = new ObservedKubeConfig();
  kc.loadFromFile(inject("kubeconfigPath"));
  return kc;
}

export interface TestOperator {
  op: Operator;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startOperator(
  namespace: string,
  natsUrl: string,
  overrides: Partial<OperatorOptions> = {},
): Promise<TestOperator> {
  const logs: Record<string, unknown>[] = [];
  // Also to a file in the run dir, kept when a test fails.
  const file = join(tempDir(`operator-${namespace}`), "operator.log");
  const log = createLogger({
    level: "debug",
    sink: (line) => {
      logs.push(JSON.parse(line) as Record<string, unknown>);
      appendFileSync(file, line + "\n");
    },
  });
  const op = new Operator({
    kc: observedKubeConfig(),
    natsUrl,
    log,
    namespace,
    leaseName: "veltrix-operator",
    identity: `test-${process.pid}`,
    leaderElect: false,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    workers: 2,
    resyncMs: 60_000,
    statusRefreshMs: 60_000,
    maxBackoffMs: 2_000,
    httpPort: undefined,
    httpHost: "127.0.0.1",
    watchNamespace: namespace,
    ...overrides,
  });
  await op.start();
  return { op, logs, stop: () => op.stop() };
}

export function custom(): CustomObjectsApi {
  return kubeConfig().makeApiClient(CustomObjectsApi);
}

export async function createVxc(
  namespace: string,
  name: string,
  spec: VeltrixConfigSpec,
): Promise<VeltrixConfig> {
  return createVeltrixConfig(kubeConfig(), namespace, name, spec);
}

export async function getVxc(namespace: string, name: string): Promise<VeltrixConfig> {
  return getVeltrixConfig(kubeConfig(), namespace, name);
}

/** Replaces the spec (read-modify-write, retried when the operator wrote in between). */
export async function updateSpec(
  namespace: string,
  name: string,
  change: (spec: VeltrixConfigSpec) => VeltrixConfigSpec,
): Promise<VeltrixConfig> {
  for (let attempt = 0; ; attempt++) {
    const cur = await getVxc(namespace, name);
    try {
      return (await custom().replaceNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        name,
        body: { ...cur, spec: change(cur.spec ?? {}) },
      })) as VeltrixConfig;
    } catch (err) {
      if ((err as { code?: number }).code !== 409 || attempt >= 10) throw err;
    }
  }
}

export function condition(vxc: VeltrixConfig | undefined, type: string) {
  return vxc?.status?.conditions?.find((c) => c.type === type);
}

/** The VeltrixConfig once Ready=True for its current generation. */
export async function readyVxc(namespace: string, name: string): Promise<VeltrixConfig | undefined> {
  const v = await getVxc(namespace, name);
  const ready = condition(v, "Ready");
  return ready?.status === "True" && v.status?.observedGeneration === v.metadata?.generation ? v : undefined;
}

export async function events(namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items;
}
