// The config a sidecar process starts with, and the rendered file the app reads.
import { existsSync, renameSync, writeFileSync } from "node:fs";
import type { SidecarOptions } from "../options.ts";
import type { ConfigSnapshots } from "../state/config-snapshots.ts";
import { firstRevisionFromKv } from "./delivery.ts";
import { loadConfigFile, type ConfigDocument } from "./settings.ts";

/** The revision to boot with: the last applied one on disk, else the config file. */
export async function bootConfig(
  opts: SidecarOptions,
  snapshots: ConfigSnapshots,
): Promise<{ doc: ConfigDocument; source: string }> {
  // The ConfigMap file is optional in a pod (the volume may be absent).
  const fromFile =
    opts.configFile && existsSync(opts.configFile)
      ? loadConfigFile(opts.configFile, opts.namespace)
      : undefined;
  // Local mode (no NATS): the file is the source of truth.
  if (!opts.natsUrl && fromFile) return { doc: fromFile, source: "file" };
  const last = await snapshots.latest();
  if (last && (!opts.name || (last.spec as ConfigDocument).name === opts.name)) {
    return { doc: last.spec as ConfigDocument, source: "disk" };
  }
  if (fromFile) return { doc: fromFile, source: "file" };
  if (opts.natsUrl && opts.name) {
    // First start of a pod with no ConfigMap mounted: wait for the operator's KV entry.
    const doc = await firstRevisionFromKv(opts, { namespace: opts.namespace, name: opts.name });
    return { doc, source: "nats-kv" };
  }
  throw new Error("no config: pass --config, or --nats-url with --name so the sidecar can fetch it");
}

export function renderConfig(file: string | undefined, doc: ConfigDocument): void {
  if (!file) return;
  const tmp = `${file}.tmp`;
  writeFileSync(
    tmp,
    JSON.stringify({ revision: doc.revision, config: doc.config, overrides: doc.overrides }, null, 2),
  );
  renameSync(tmp, file);
}
