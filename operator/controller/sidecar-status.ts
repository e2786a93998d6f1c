// What each sidecar reports applying, kept in memory from a watch on the
// sidecarStatusBucket KV bucket (key "<namespace>.<config>.<pod>", value SidecarStatus).
// Entries expire by the bucket's TTL, so a vanished pod stops counting by itself.
import type { KV } from "@nats-io/kv";
import type { ConfigRef, SidecarStatus } from "../api/contract.ts";
import type { Logger } from "./log.ts";

export class SidecarStatusIndex {
  private readonly byConfig = new Map<string, Map<string, string>>();

  /** Revision reported by `pod` of config `ref`, if any. */
  revision(ref: ConfigRef, pod: string): string | undefined {
    return this.byConfig.get(`${ref.namespace}/${ref.name}`)?.get(pod.replaceAll(".", "_"));
  }

  /** Applies one KV entry; returns the config key ("namespace/name") it belongs to. */
  apply(key: string, value: SidecarStatus | undefined): string | undefined {
    const [namespace, config, pod] = key.split(".");
    if (!namespace || !config || !pod) return undefined;
    const k = `${namespace}/${config}`;
    let pods = this.byConfig.get(k);
    if (value) {
      if (!pods) this.byConfig.set(k, (pods = new Map<string, string>()));
      pods.set(pod, value.revision);
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
