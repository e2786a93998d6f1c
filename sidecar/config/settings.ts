// The one module that knows the operator's API types: it turns a VeltrixConfig (YAML
// file in local mode) or a ConfigDocument (from NATS KV, the ConfigMap file, or disk)
// into the numbers the sidecar runs with. Everything else imports from here.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { parse as parseYaml } from "yaml";
import { configDocument, type ConfigDocument } from "../../api/resolve.ts";
import type { VeltrixConfig } from "../../api/types.generated.ts";

export type { ConfigDocument } from "../../api/resolve.ts";
export { overrideMatches, resolveConfig, canonicalJson } from "../../api/resolve.ts";
export * as contract from "../../api/contract.ts";
export { queueSettings, type QueueMode, type QueueSettings } from "../../api/queue-settings.ts";

/** Which of a pod's proxy workers this process is (1-based), for splitting per-pod limits. */
export interface WorkerShare {
  index: number;
  of: number;
}

/**
 * This worker's part of the pod's `maxConcurrency`: the limit is per pod, so N workers
 * split it (the first `total % N` take one more) and together never exceed it. Each
 * worker keeps at least 1, so a pod with more workers than `maxConcurrency` can exceed
 * it by the difference; the primary warns about that configuration.
 */
export function concurrencyShare(total: number, share: WorkerShare): number {
  const base = Math.floor(total / share.of);
  const extra = share.index <= total % share.of ? 1 : 0;
  return Math.max(1, base + extra);
}

/**
 * Reads a config file: a VeltrixConfig manifest (YAML or JSON, local mode) or a
 * ConfigDocument (the operator's ConfigMap key, JSON). `namespace` fills in a manifest
 * without one.
 */
export function loadConfigFile(path: string, namespace = "default"): ConfigDocument {
  return toConfigDocument(parseConfigText(readFileSync(path, "utf8")), namespace, path);
}

/**
 * JSON (what a pod reads: the operator's ConfigMap document) as JSON; anything else as YAML.
 * The YAML parser is loaded only then: it is 4 MiB of the sidecar's heap and RSS that a pod
 * never uses (docs/benchmarks.md, "The sidecar's footprint").
 */
function parseConfigText(text: string): unknown {
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // YAML that starts with a flow collection, parsed below.
    }
  }
  const yaml = createRequire(import.meta.url)("yaml") as { parse: typeof parseYaml };
  return yaml.parse(text);
}

export function toConfigDocument(parsed: unknown, namespace: string, source: string): ConfigDocument {
  if (typeof parsed !== "object" || parsed === null)
    throw new Error(`${source}: not a VeltrixConfig or config document`);
  const obj = parsed as Record<string, unknown>;
  if (obj["schema"] === 1 && typeof obj["revision"] === "string") return obj as unknown as ConfigDocument;
  const vc = obj as VeltrixConfig;
  if (vc.kind !== "VeltrixConfig")
    throw new Error(`${source}: kind is ${String(vc.kind)}, want VeltrixConfig`);
  const name = vc.metadata?.name;
  if (!name) throw new Error(`${source}: metadata.name is required`);
  return configDocument({ namespace: vc.metadata?.namespace ?? namespace, name }, vc.spec);
}
