// The webhook's reads from the API server: the pod's namespace (labels, annotations)
// and the VeltrixConfig it names. Hits are cached for a short TTL so a burst of
// pods from one ReplicaSet costs two reads, not two per pod, and refreshed in the
// background so no admission waits on an expiry; a miss is never cached, so a
// config created a moment ago is found on the next pod.
import { ApiException, CoreV1Api, CustomObjectsApi, type KubeConnection } from "../runtime/kube-api.ts";
import { group, plural, version } from "../../api/contract.ts";
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

/**
 * Found objects are fresh for `ttlMs`; after that the next reader still gets the
 * cached value at once while one refresh runs in the background (stale for at most
 * another ttl). Concurrent misses share one request. A miss is never cached.
 */
export class LookupCache<T> {
  private readonly entries = new Map<string, { value: T; at: number }>();
  private readonly inflight = new Map<string, Promise<T | undefined>>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(ttlMs: number, now: () => number) {
    this.ttlMs = ttlMs;
    this.now = now;
  }

  async get(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const hit = this.entries.get(key);
    const age = hit ? this.now() - hit.at : Infinity;
    if (hit && age < this.ttlMs) return hit.value;
    if (hit && age < 2 * this.ttlMs) {
      this.refresh(key, load).catch(() => this.entries.delete(key));
      return hit.value;
    }
    return this.refresh(key, load);
  }

  private refresh(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = load()
        .then((value) => {
          if (value === undefined) this.entries.delete(key);
          else {
            if (this.entries.size > 10_000) this.entries.clear();
            this.entries.set(key, { value, at: this.now() });
          }
          return value;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }
}

export function createKubeLookups(kc: KubeConnection, options: KubeLookupOptions): Lookups {
  const core = new CoreV1Api(kc);
  const custom = new CustomObjectsApi(kc);
  const now = options.now ?? Date.now;
  const ttl = options.cacheTtlMs ?? 2_000;
  const namespaces = new LookupCache<NamespaceInfo>(ttl, now);
  const configs = new LookupCache<InjectionConfig>(ttl, now);
  return {
    async namespace(name) {
      const info = await namespaces.get(name, async () => {
        try {
          const ns = await core.readNamespace({ name });
          return { name, labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} };
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      });
      return info ?? { name, labels: {}, annotations: {} };
    },
    config(namespace, name) {
      return configs.get(`${namespace}/${name}`, async () => {
        try {
          const object: unknown = await custom.getNamespacedCustomObject({
            group,
            version,
            plural,
            namespace,
            name,
          });
          return injectionConfigFrom(object, options.defaults);
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      });
    },
  };
}
