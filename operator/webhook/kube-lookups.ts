// The webhook's reads from the API server: the pod's namespace (labels, annotations)
// and the VeltrixConfig it names. Hits are cached for a short TTL so a burst of
// pods from one ReplicaSet costs two reads, not two per pod; a miss is never
// cached, so a config created a moment ago is found on the next pod.
import { ApiException, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { group, plural, version } from "../api/contract.ts";
import type { Lookups } from "./admit.ts";
import { type ClusterDefaults, type InjectionConfig, injectionConfigFrom } from "./config-input.ts";
import type { NamespaceInfo } from "./pod.ts";

export interface KubeLookupOptions {
  /** What a VeltrixConfig does not set (image, pull policy, resources). */
  defaults: ClusterDefaults;
  /** How long a found object is reused (default 2 s). */
  cacheTtlMs?: number;
  now?: () => number;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(ttlMs: number, now: () => number) {
    this.ttlMs = ttlMs;
    this.now = now;
  }

  get(key: string): T | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.until > this.now()) return hit.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: T): void {
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(key, { value, until: this.now() + this.ttlMs });
  }
}

export function createKubeLookups(kc: KubeConfig, options: KubeLookupOptions): Lookups {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const now = options.now ?? Date.now;
  const ttl = options.cacheTtlMs ?? 2_000;
  const namespaces = new TtlCache<NamespaceInfo>(ttl, now);
  const configs = new TtlCache<InjectionConfig>(ttl, now);
  return {
    async namespace(name) {
      const cached = namespaces.get(name);
      if (cached) return cached;
      try {
        const ns = await core.readNamespace({ name });
        const info = { name, labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} };
        namespaces.set(name, info);
        return info;
      } catch (err) {
        if (isNotFound(err)) return { name, labels: {}, annotations: {} };
        throw err;
      }
    },
    async config(namespace, name) {
      const key = `${namespace}/${name}`;
      const cached = configs.get(key);
      if (cached) return cached;
      try {
        const object: unknown = await custom.getNamespacedCustomObject({
          group,
          version,
          plural,
          namespace,
          name,
        });
        const config = injectionConfigFrom(object, options.defaults);
        configs.set(key, config);
        return config;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}
