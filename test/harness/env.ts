// What a test file uses: the shared control plane and NATS started by
// global-setup.ts, plus helpers that give each test its own namespace and dirs.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("kubeconfigPath"));
  return kc;
}

export function natsUrl(): string {
  return inject("natsUrl");
}

/** A fresh directory under this run's dir (kept with the logs on failure). */
export function tempDir(prefix: string): string {
  const dir = join(inject("runDir"), "tmp", `${prefix}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Creates a namespace and waits for its default ServiceAccount (pods need it). */
export async function createNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name, labels } } });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace: name });
      return name;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(
    `namespace ${name}: default ServiceAccount not created within 30 s (is kube-controller-manager running?)`,
  );
}

/** Polls until `check` returns a value other than undefined (devenv/eventually.ts). */
export { eventually } from "../../devenv/eventually.ts";
