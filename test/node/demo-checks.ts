// The checks on the demo app that the node suite (install.test.ts) and the kind script
// (test/e2e/kind/checks.ts) share, so a cluster with a container engine is held to the same
// claims as the node here. Plain node:assert, so they run inside vitest and outside it; each
// waits for its condition (eventually) and fails naming what it waited for.
import assert from "node:assert/strict";
import { CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { group, plural, version } from "../../api/contract.ts";
import { eventually } from "../../devenv/eventually.ts";
import { getVeltrixConfig } from "../../devenv/veltrixconfig-client.ts";

export interface DemoAnswer {
  path: string;
  requestId: string | null;
  configRevision: string | null;
  attempt: string | null;
}

/** The pod got the native sidecar (a restartable init container), started and Ready. */
export function checkNativeSidecar(pod: V1Pod): void {
  const name = pod.metadata?.name;
  const sidecar = pod.spec?.initContainers?.find((c) => c.name === "veltrix-sidecar");
  assert.equal(sidecar?.restartPolicy, "Always", `${name}: veltrix-sidecar is a native sidecar`);
  assert.equal(pod.metadata?.annotations?.["veltrix.io/status"], "injected", `${name}: veltrix.io/status`);
  const status = pod.status?.initContainerStatuses?.find((s) => s.name === "veltrix-sidecar");
  assert.equal(status?.started, true, `${name}: veltrix-sidecar started`);
  assert.equal(status?.ready, true, `${name}: veltrix-sidecar ready`);
}

/**
 * `n` concurrent requests to `baseUrl` (the demo's Service, however it is reached) all answered
 * 200 by the app through the sidecar in sync mode: each with a request id, the operator's
 * `revision`, on its first attempt.
 */
export async function checkAnswers(baseUrl: string, revision: string, path: string, n = 8): Promise<void> {
  const answers = await eventually(
    `${n} answers through ${baseUrl}`,
    async () => {
      const all = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const res = await fetch(`${baseUrl}/${path}/${i}`);
          return { status: res.status, body: (await res.json()) as DemoAnswer };
        }),
      );
      return all.every((a) => a.status === 200) ? all.map((a) => a.body) : undefined;
    },
    60_000,
    250,
  );
  for (const a of answers) {
    assert.match(a.requestId ?? "", /.+/, `${a.path}: x-veltrix-request-id`);
    assert.equal(a.configRevision, revision, `${a.path}: x-veltrix-config-revision`);
    assert.equal(a.attempt, "1", `${a.path}: x-veltrix-attempt`);
  }
}

/** The config's status counts `summary` pods in sync (`inSync/injected`, e.g. "1/1"). */
export async function checkInSync(
  kc: KubeConfig,
  namespace: string,
  name: string,
  summary: string,
): Promise<void> {
  await eventually(
    `${namespace}/${name} pods ${summary} in sync`,
    async () =>
      (await getVeltrixConfig(kc, namespace, name)).status?.pods?.summary === summary ? true : undefined,
    60_000,
    250,
  );
}

/**
 * A change of spec.config gets a new revision from the operator, and the running pod answers
 * with it (no restart). Resolves with the new revision and the ms from its publication to the
 * first answer carrying it.
 */
export async function checkConfigChange(
  kc: KubeConfig,
  namespace: string,
  name: string,
  baseUrl: string,
  config: Record<string, unknown>,
): Promise<{ revision: string; ms: number }> {
  const before = await getVeltrixConfig(kc, namespace, name);
  // A replace carries the resourceVersion read: a concurrent write fails it instead of being lost.
  await kc.makeApiClient(CustomObjectsApi).replaceNamespacedCustomObject({
    group,
    version,
    namespace,
    plural,
    name,
    body: { ...before, spec: { ...before.spec, config } },
  });
  const revision = await eventually(
    `a new revision of ${namespace}/${name}`,
    async () => {
      const r = (await getVeltrixConfig(kc, namespace, name)).status?.revision;
      return r && r !== before.status?.revision ? r : undefined;
    },
    60_000,
    250,
  );
  const published = Date.now();
  await eventually(
    `the pod answering with revision ${revision}`,
    async () => {
      const res = await fetch(`${baseUrl}/after-change`);
      return ((await res.json()) as DemoAnswer).configRevision === revision ? true : undefined;
    },
    60_000,
    250,
  );
  return { revision, ms: Date.now() - published };
}
