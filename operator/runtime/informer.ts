// A supervised informer: list, then watch from the list's resourceVersion, keeping a cache
// of what was seen. Any list or watch error restarts both with backoff (client-node's
// ListWatch, which this replaced, stopped for good on any error other than 410 Gone:
// kubernetes-client/javascript issues 447, 795, 958, 1933); 410 Gone relists at once; a
// watch the server ends is reopened from the last resourceVersion. A periodic resync hands
// every cached object to the handler again so a missed event cannot leave an object
// unreconciled. Handlers only enqueue keys.
// The cache holds what `transform` returns (by default the object without
// metadata.managedFields, which no controller reads and which is often most of a small
// object): an informer for a large kind should keep only the fields its controller reads.
import type { KubernetesListObject, KubernetesObject, V1ObjectMeta } from "@kubernetes/client-node";
import type { Logger } from "../../lib/log.ts";
import {
  ApiException,
  type KubeConnection,
  kubeWatch,
  type WatchEventType,
  type WatchHandle,
} from "./kube-client.ts";

export type InformerEvent = "add" | "update" | "delete" | "resync";

export interface InformerOptions<T extends KubernetesObject> {
  name: string;
  kc: KubeConnection;
  /** Watch path, e.g. /apis/veltrix.io/v1alpha1/veltrixconfigs */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  /** What the cache keeps of each object (default: it without metadata.managedFields). */
  transform?: (obj: T) => T;
  onEvent: (obj: T, event: InformerEvent) => void;
  log: Logger;
  /** Resync period (default 10 minutes; 0 disables). */
  resyncMs?: number;
  /** Restart backoff bounds (default 500 ms .. 30 s). */
  minRestartMs?: number;
  maxRestartMs?: number;
  onRestart?: () => void;
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * The default transform: the object without metadata.managedFields and kubectl's
 * last-applied-configuration annotation (a second copy of the object), which no controller reads.
 */
export function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  const m = obj.metadata;
  if (m?.managedFields === undefined && m?.annotations?.[lastApplied] === undefined) return obj;
  const metadata = { ...m };
  delete metadata.managedFields;
  if (m.annotations?.[lastApplied] !== undefined) {
    const annotations = { ...m.annotations };
    delete annotations[lastApplied];
    metadata.annotations = annotations;
  }
  return { ...obj, metadata };
}

/** A transform that keeps only these metadata fields and these top-level fields of each object. */
export function keepOnly<T extends KubernetesObject>(
  metadataKeys: readonly (keyof V1ObjectMeta)[],
  fields: readonly (keyof T)[] = [],
): (obj: T) => T {
  return (obj) => {
    const metadata: Record<string, unknown> = {};
    for (const k of metadataKeys) if (obj.metadata?.[k] !== undefined) metadata[k] = obj.metadata[k];
    const out = { metadata } as unknown as T;
    for (const f of fields) if (obj[f] !== undefined) out[f] = obj[f];
    return out;
  };
}

const gone = (err: unknown): boolean => err instanceof ApiException && err.code === 410;

export class SupervisedInformer<T extends KubernetesObject> {
  private readonly opts: InformerOptions<T>;
  private readonly transform: (obj: T) => T;
  /** namespace ("" for cluster-scoped) → name → object */
  private readonly cache = new Map<string, Map<string, T>>();
  private resourceVersion = "";
  private watch: WatchHandle | undefined;
  private stopped = true;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncedOnce = false;
  /** Bumped on every (re)start, so a late answer of an older list or watch is ignored. */
  private generation = 0;

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.transform = opts.transform ?? withoutManagedFields;
  }

  /** True once the first list completed (the cache is usable). */
  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ?? "")?.get(name);
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return [...(this.cache.get(namespace)?.values() ?? [])];
    const out: T[] = [];
    for (const byName of this.cache.values()) out.push(...byName.values());
    return out;
  }

  /** Starts list+watch; resolves after the first successful list (retrying until then). */
  async start(): Promise<void> {
    this.stopped = false;
    const resync = this.opts.resyncMs ?? 600_000;
    if (resync > 0) {
      this.resyncTimer = setInterval(() => this.resync(), resync);
      this.resyncTimer.unref();
    }
    await this.run();
    while (!this.syncedOnce && !this.stopped) await new Promise((r) => setTimeout(r, 50));
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.restartTimer);
    clearInterval(this.resyncTimer);
    this.watch?.stop();
    this.watch = undefined;
    return Promise.resolve();
  }

  /** Hands every cached object to the handler (periodic, and on demand). */
  resync(): void {
    for (const o of this.list()) this.opts.onEvent(o, "resync");
  }

  /** Lists (unless a resourceVersion is known), then opens the watch. Errors restart with backoff. */
  private async run(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    try {
      if (!this.resourceVersion) await this.relist(generation);
      if (generation !== this.generation) return;
      this.syncedOnce = true;
      const handle = await kubeWatch(
        this.opts.kc,
        this.opts.path,
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          labelSelector: this.opts.labelSelector,
          // As client-go's reflector: the server ends each watch after 5-10 minutes.
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        },
        (type, object) => {
          if (generation === this.generation) this.onWatchEvent(type, object as T, generation);
        },
      );
      if (generation !== this.generation) return handle.stop();
      this.watch = handle;
      this.failures = 0;
      handle.done.then(
        () => {
          // The server ended the watch: go on from where it was.
          if (generation === this.generation && !this.stopped) void this.run();
        },
        (err: unknown) => {
          if (generation === this.generation) this.failed(err);
        },
      );
    } catch (err) {
      if (generation !== this.generation) return;
      if (gone(err)) {
        this.resourceVersion = "";
        void this.run();
      } else {
        this.failed(err);
      }
    }
  }

  private async relist(generation: number): Promise<void> {
    const list = await this.opts.list();
    if (generation !== this.generation) return;
    const before = this.cache;
    const fresh = new Map<string, Map<string, T>>();
    const events: [T, InformerEvent][] = [];
    for (const item of list.items) {
      const obj = this.transform(item);
      const ns = obj.metadata?.namespace ?? "";
      const name = obj.metadata?.name ?? "";
      const old = before.get(ns)?.get(name);
      let byName = fresh.get(ns);
      if (!byName) fresh.set(ns, (byName = new Map<string, T>()));
      byName.set(name, obj);
      if (!old) events.push([obj, "add"]);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) events.push([obj, "update"]);
    }
    for (const [ns, byName] of before) {
      for (const [name, old] of byName) if (!fresh.get(ns)?.has(name)) events.push([old, "delete"]);
    }
    this.cache.clear();
    for (const [ns, byName] of fresh) this.cache.set(ns, byName);
    this.resourceVersion = list.metadata?.resourceVersion ?? "";
    for (const [obj, event] of events) this.opts.onEvent(obj, event);
  }

  private onWatchEvent(type: WatchEventType, raw: T, generation: number): void {
    if (type === "ERROR") {
      const status = raw as { code?: number; message?: string };
      this.watch?.stop();
      this.watch = undefined;
      if (status.code === 410) {
        // Our resourceVersion is too old: list again, at once.
        this.resourceVersion = "";
        void this.run();
      } else {
        this.failed(new Error(`watch error ${status.code ?? "?"}: ${status.message ?? ""}`));
      }
      return;
    }
    const rv = raw.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type === "BOOKMARK" || generation !== this.generation) return;
    const obj = this.transform(raw);
    const ns = obj.metadata?.namespace ?? "";
    const name = obj.metadata?.name ?? "";
    let byName = this.cache.get(ns);
    if (type === "DELETED") {
      byName?.delete(name);
      if (byName?.size === 0) this.cache.delete(ns);
      this.opts.onEvent(obj, "delete");
      return;
    }
    if (!byName) this.cache.set(ns, (byName = new Map<string, T>()));
    const existed = byName.has(name);
    byName.set(name, obj);
    this.opts.onEvent(obj, existed ? "update" : "add");
  }

  private failed(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    this.generation++; // whatever is still running belongs to the failed attempt
    this.watch?.stop();
    this.watch = undefined;
    // A restart lists again: what changed meanwhile comes as add/update/delete.
    this.resourceVersion = "";
    const min = this.opts.minRestartMs ?? 500;
    const max = this.opts.maxRestartMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures, 20));
    this.failures++;
    this.opts.log.warn("list+watch failed, restarting", { informer: this.opts.name, err, retryInMs: delay });
    this.opts.onRestart?.();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.run();
    }, delay);
    this.restartTimer.unref();
  }
}
