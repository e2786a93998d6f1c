// A supervised informer: client-node's ListWatch plus what it lacks. ListWatch stops
// for good on any watch or list error other than 410 Gone (kubernetes-client/javascript
// issues 447, 795, 958, 1933); the supervisor restarts it with backoff, and a periodic
// resync hands every cached object to the handler again so a missed event cannot
// leave an object unreconciled. Handlers only enqueue keys.
import {
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  type ListPromise,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "../../lib/log.ts";

export type InformerEvent = "add" | "update" | "delete" | "resync";

export interface InformerOptions<T extends KubernetesObject> {
  name: string;
  kc: KubeConfig;
  /** Watch path, e.g. /apis/veltrix.io/v1alpha1/veltrixconfigs */
  path: string;
  list: ListPromise<T>;
  labelSelector?: string;
  onEvent: (obj: T, event: InformerEvent) => void;
  log: Logger;
  /** Resync period (default 10 minutes; 0 disables). */
  resyncMs?: number;
  /** Restart backoff bounds (default 500 ms .. 30 s). */
  minRestartMs?: number;
  maxRestartMs?: number;
  onRestart?: () => void;
}

export class SupervisedInformer<T extends KubernetesObject> {
  private readonly lw: ListWatch<T>;
  private readonly opts: InformerOptions<T>;
  private stopped = true;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncedOnce = false;

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.lw = new ListWatch<T>(opts.path, new Watch(opts.kc), opts.list, false, opts.labelSelector);
    this.lw.on("add", (o) => opts.onEvent(o, "add"));
    this.lw.on("update", (o) => opts.onEvent(o, "update"));
    this.lw.on("delete", (o) => opts.onEvent(o, "delete"));
    this.lw.on("error", (err: unknown) => this.failed(err));
  }

  /** True once the first list completed (the cache is usable). */
  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace);
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

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.resyncTimer);
    await this.lw.stop();
  }

  /** Hands every cached object to the handler (periodic, and on demand). */
  resync(): void {
    for (const o of this.lw.list()) this.opts.onEvent(o, "resync");
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.lw.start();
      // ListWatch.start() resolves once the list is in and the watch is open.
      if (this.lw.latestResourceVersion()) {
        this.syncedOnce = true;
        this.failures = 0;
      }
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
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
