// What the operator creates outside any VeltrixConfig (the leader Lease, the self-managed
// webhook Secret) is owned by the operator's Deployment, so the garbage collector deletes
// it with the Deployment (helm uninstall) instead of leaving it behind. The chart names
// the Deployment (--owner-deployment); the Role lets the operator read that one only.
import type { V1OwnerReference } from "@kubernetes/client-node";
import { AppsV1Api, type KubeConnection } from "./kube-api.ts";

/**
 * The owner reference to Deployment `name` in `namespace`, or none when no name is given or
 * it cannot be read (then `warn` says why, and the objects are made without an owner).
 */
export async function deploymentOwner(
  kc: KubeConnection,
  namespace: string,
  name: string,
  warn: (message: string, fields: Record<string, unknown>) => void,
): Promise<V1OwnerReference[]> {
  if (!name) return [];
  try {
    const d = await new AppsV1Api(kc).readNamespacedDeployment({ name, namespace });
    const uid = d.metadata?.uid;
    if (!uid) throw new Error("the Deployment has no uid");
    // Not a controller reference and no blockOwnerDeletion: the Deployment does not manage
    // these objects, and deleting it must never wait for them.
    return [{ apiVersion: "apps/v1", kind: "Deployment", name, uid }];
  } catch (err) {
    warn("cannot read the owner Deployment; the Lease and webhook Secret get no owner", {
      deployment: `${namespace}/${name}`,
      error: (err as Error).message,
    });
    return [];
  }
}

/** True when `refs` already holds every reference in `want` (by uid). */
export function hasOwners(refs: V1OwnerReference[] | undefined, want: V1OwnerReference[]): boolean {
  return want.every((w) => (refs ?? []).some((r) => r.uid === w.uid));
}
