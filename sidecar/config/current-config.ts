// The config revision the sidecar applies now. Switching is one reference swap, so a
// request admitted under revision A keeps A's resolved config (stored on disk by hash)
// however many revisions arrive while it runs.
import {
  concurrencyShare,
  overrideMatches,
  queueSettings,
  type ConfigDocument,
  type QueueSettings,
  type WorkerShare,
} from "./settings.ts";

export interface AppliedRevision {
  readonly doc: ConfigDocument;
  readonly settings: QueueSettings;
  /** Canonical JSON of the base config (what /v1/config serves). */
  readonly json: string;
  readonly appliedAt: number;
  /** Resolved configs by key, one per combination of matching overrides actually seen. */
  readonly resolved: Map<string, string>;
}

export interface ResolvedRef {
  /** `<revision>` or `<revision>+<override>+<override>`: names the resolved config on disk. */
  key: string;
  revision: string;
  /** The resolved config as JSON; computed once per key per revision. */
  json: string;
  isNew: boolean;
}

type Listener = (rev: AppliedRevision) => void;

export class CurrentConfig {
  private rev: AppliedRevision;
  private readonly listeners = new Set<Listener>();
  private readonly share: WorkerShare | undefined;

  /** `share`: this process is one of several proxy workers of the pod (`--workers`). */
  constructor(doc: ConfigDocument, share?: WorkerShare) {
    this.share = share;
    this.rev = applied(doc, share);
  }

  get current(): AppliedRevision {
    return this.rev;
  }

  /** Switches to `doc` unless it is the revision applied now; returns whether it switched. */
  apply(doc: ConfigDocument): boolean {
    if (doc.revision === this.rev.doc.revision) return false;
    this.rev = applied(doc, this.share);
    for (const l of [...this.listeners]) l(this.rev);
    return true;
  }

  onChange(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The per-request config for a request under the current revision. */
  resolve(path: string, headers: Readonly<Record<string, string | string[] | undefined>>): ResolvedRef {
    return resolveIn(this.rev, path, headers);
  }
}

export function resolveIn(
  rev: AppliedRevision,
  path: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): ResolvedRef {
  const { doc } = rev;
  let key = doc.revision;
  const facts = { path, headers };
  for (const o of doc.overrides) if (overrideMatches(o, facts)) key += `+${o.name}`;
  let json = rev.resolved.get(key);
  let isNew = false;
  if (json === undefined) {
    const config = { ...doc.config };
    for (const o of doc.overrides) if (overrideMatches(o, facts)) Object.assign(config, o.config);
    const applied = key.split("+").slice(1);
    json = JSON.stringify({ revision: doc.revision, overrides: applied, config });
    rev.resolved.set(key, json);
    isNew = true;
  }
  return { key, revision: doc.revision, json, isNew };
}

function applied(doc: ConfigDocument, share: WorkerShare | undefined): AppliedRevision {
  const settings = queueSettings(doc);
  if (share) settings.maxConcurrency = concurrencyShare(settings.maxConcurrency, share);
  return {
    doc,
    settings,
    json: JSON.stringify({ revision: doc.revision, config: doc.config }),
    appliedAt: Date.now(),
    resolved: new Map(),
  };
}
