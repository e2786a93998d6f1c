// A KubeConfig that reports every request client-node makes (typed APIs, watches,
// KubernetesObjectApi all pass through applySecurityAuthentication), so the operator
// can count its API requests in /metrics and the benchmark can report them.
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

export class ObservedKubeConfig extends KubeConfig {
  observer: RequestObserver | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    const url = context.getUrl();
    const watch = /[?&]watch=(true|1)/.test(url);
    this.observer?.(watch ? "WATCH" : context.getHttpMethod(), resourceOf(url));
    return super.applySecurityAuthentication(context);
  }
}

export function loadKubeConfig(path: string | undefined): ObservedKubeConfig {
  const kc = new ObservedKubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
