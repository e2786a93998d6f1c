// A KubeConfig that reports every request client-node makes (typed APIs, watches,
// KubernetesObjectApi all pass through applySecurityAuthentication), so the operator
// can count its API requests in /metrics and the benchmark can report them; and that
// reuses one connection pool. client-node 2.0.1 builds a new undici Agent for every
// request, so without this each request pays a TLS handshake and leaves a pool behind,
// which bench/operator-scale.ts shows in the operator's peak RSS and time to Ready
// (docs/benchmarks.md, "Operator").
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";

export type RequestObserver = (verb: string, resource: string) => void;

/** "GET", "/apis/veltrix.io/v1alpha1/namespaces/x/veltrixconfigs/y/status" → "veltrixconfigs/status". */
export function resourceOf(url: string): string {
  const path = new URL(url).pathname.split("/").filter(Boolean);
  const start = path[0] === "api" ? 2 : 3; // api/v1/... or apis/group/version/...
  const rest = path.slice(start);
  if (rest[0] === "namespaces" && rest.length > 2) rest.splice(0, 2);
  const resource = rest[0] ?? "";
  const sub = rest.length >= 3 ? rest[2] : undefined;
  return sub ? `${resource}/${sub}` : resource;
}

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/** How long one pool is reused before it is rebuilt (picks up rotated client certificates). */
const poolTtlMs = 10 * 60_000;

export class ObservedKubeConfig extends KubeConfig {
  observer: RequestObserver | undefined;
  /** Share one dispatcher between requests (default true). */
  reusePool = true;
  private pool: { dispatcher: Dispatcher; server: string; at: number } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    const url = context.getUrl();
    const watch = /[?&]watch=(true|1)/.test(url);
    this.observer?.(watch ? "WATCH" : context.getHttpMethod(), resourceOf(url));
    await super.applySecurityAuthentication(context);
    if (!this.reusePool) return;
    const fresh = context.getDispatcher();
    if (!fresh) return;
    const server = this.getCurrentCluster()?.server ?? "";
    const now = Date.now();
    const pool = this.pool;
    if (pool && pool.server === server && now - pool.at < poolTtlMs) {
      context.setDispatcher(pool.dispatcher);
      void fresh.close(); // never used: no connections to drain
      return;
    }
    this.pool = { dispatcher: fresh, server, at: now };
    // The old pool finishes its in-flight requests (and open watches) and then closes.
    if (pool) void pool.dispatcher.close().catch(() => undefined);
  }
}

export function loadKubeConfig(path: string | undefined): ObservedKubeConfig {
  const kc = new ObservedKubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
