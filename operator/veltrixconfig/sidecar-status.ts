// What each sidecar reports applying, kept in memory from a watch on the
// sidecarStatusBucket KV bucket (key "<namespace>.<config>.<pod>", value SidecarStatus).
// Entries expire by the bucket's TTL, which a watch does not announce, so a report older
// than the TTL counts as absent here too: a sidecar that stopped reporting stops counting.
import type { KV } from "@nats-io/kv";
import { type ConfigRef, type SidecarStatus, sidecarStatusTtlMs } from "../../api/contract.ts";
import type { Logger } from "../../lib/log.ts";

/** A pod as far as counting it in sync needs: its name and its conditions. */
export interface CountedPod {
  metadata?: { name?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * The pods in sync with `revision`: Ready (a pod still starting, or failing its probes, serves
 * nothing yet, so it is not counted however far its sidecar got) and whose sidecar reports
 * applying that revision.
 */
export function podsInSync<P extends CountedPod>(
  pods: readonly P[],
  reported: (pod: string) => string | undefined,
  revision: string,
): P[] {
  return pods.filter(
    (p) =>
      (p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false) &&
      reported(p.metadata?.name ?? "") === revision,
  );
}

export class SidecarStatusIndex {
  private readonly byConfig = new Map<string, Map<string, { revision: string; at: number }>>();
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(opts: { now?: () => number; ttlMs?: number } = {}) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? sidecarStatusTtlMs;
  }

  /** Revision reported by `pod` of config `ref` within the TTL, if any. */
  revision(ref: ConfigRef, pod: string): string | undefined {
    const e = this.byConfig.get(`${ref.namespace}/${ref.name}`)?.get(pod.replaceAll(".", "_"));
    return e && this.now() - e.at <= this.ttlMs ? e.revision : undefined;
  }

  /** Applies one KV entry; returns the config key ("namespace/name") it belongs to. */
  apply(key: string, value: SidecarStatus | undefined): string | undefined {
    const [namespace, config, pod] = key.split(".");
    if (!namespace || !config || !pod) return undefined;
    const k = `${namespace}/${config}`;
    let pods = this.byConfig.get(k);
    if (value) {
      if (!pods) this.byConfig.set(k, (pods = new Map<string, { revision: string; at: number }>()));
      pods.set(pod, { revision: value.revision, at: this.now() });
    } else {
      pods?.delete(pod);
    }
    return k;
  }

  /** Follows the bucket until the watch ends; calls onChange with the config key. */
  async follow(kv: KV, log: Logger, onChange: (configKey: string) => void): Promise<void> {
    const watch = await kv.watch({ key: ">" });
    for await (const e of watch) {
      let value: SidecarStatus | undefined;
      if (e.operation === "PUT") {
        try {
          value = e.json<SidecarStatus>();
        } catch (err) {
          log.warn("ignoring malformed sidecar status", { key: e.key, err });
          continue;
        }
      }
      const k = this.apply(e.key, value);
      if (k) onChange(k);
    }
  }
}
