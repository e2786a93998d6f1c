// Where the operator's API server is and how it authenticates: a kubeconfig file (token,
// token file, client certificate; paths relative to the file) or, in a pod, the service
// account's token and CA. The token file is read again every minute (bound tokens are
// rotated by the kubelet). A kubeconfig with an exec or auth-provider user is refused
// with a message: the operator runs in-cluster, and tests and local runs use tokens.
// Every request is reported to `observer` (the operator's API request counter). It is a
// KubeConnection for operator/runtime/kube-client.ts; client-node's KubeConfig is not
// loaded at run time (docs/benchmarks.md, "Operator": its import alone is +56 MiB RSS).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import type { RequestOptions } from "node:https";
import type { KubeConnection, RequestObserver } from "./kube-client.ts";

export { resourceOf, type RequestObserver } from "./kube-client.ts";

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
const tokenRereadMs = 60_000;
const tlsRereadMs = 10 * 60_000;

export interface Cluster {
  readonly name: string;
  readonly server: string;
  readonly caFile?: string | undefined;
  readonly caData?: string | undefined;
  readonly skipTLSVerify?: boolean | undefined;
  readonly tlsServerName?: string | undefined;
}

export interface User {
  readonly name: string;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly certData?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly keyData?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

type Entry<K extends string> = { name?: string } & Record<K, Record<string, unknown> | undefined>;
interface KubeconfigFile {
  clusters?: Entry<"cluster">[];
  users?: Entry<"user">[];
  contexts?: Entry<"context">[];
  "current-context"?: string;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** JSON as JSON; YAML (any other kubeconfig) through the yaml package, loaded only then. */
function parseKubeconfig(text: string): KubeconfigFile {
  try {
    return JSON.parse(text) as KubeconfigFile;
  } catch {
    const yaml = createRequire(import.meta.url)("yaml") as { parse(text: string): KubeconfigFile | null };
    return yaml.parse(text) ?? {};
  }
}

export class ObservedKubeConfig implements KubeConnection {
  observer: RequestObserver | undefined;
  private cluster: Cluster | null = null;
  private user: User | null = null;
  private token: { value: string; at: number } | undefined;
  private tls:
    | {
        at: number;
        options: Pick<RequestOptions, "ca" | "cert" | "key" | "rejectUnauthorized" | "servername">;
      }
    | undefined;

  loadFromFile(file: string, context?: string): void {
    const kc = parseKubeconfig(readFileSync(file, "utf8"));
    const base = dirname(file);
    const abs = (p: unknown): string | undefined => {
      const s = str(p);
      return s === undefined || isAbsolute(s) ? s : join(base, s);
    };
    const contextName = context ?? kc["current-context"] ?? kc.contexts?.[0]?.name;
    const ctx = kc.contexts?.find((c) => c.name === contextName)?.context;
    if (!ctx) throw new Error(`${file}: no context '${contextName ?? ""}'`);
    const clusterName = str(ctx["cluster"]);
    const c = kc.clusters?.find((x) => x.name === clusterName)?.cluster;
    if (!c || !str(c["server"])) throw new Error(`${file}: no cluster '${clusterName ?? ""}' with a server`);
    const userName = str(ctx["user"]);
    const u = kc.users?.find((x) => x.name === userName)?.user ?? {};
    if (u["exec"] || u["auth-provider"]) {
      throw new Error(
        `${file}: user '${userName ?? ""}' authenticates with ${u["exec"] ? "exec" : "auth-provider"}, which the operator does not support; use a token or a client certificate`,
      );
    }
    this.setCluster(
      {
        name: clusterName ?? "",
        server: str(c["server"]) ?? "",
        caFile: abs(c["certificate-authority"]),
        caData: str(c["certificate-authority-data"]),
        skipTLSVerify: c["insecure-skip-tls-verify"] === true,
        tlsServerName: str(c["tls-server-name"]),
      },
      {
        name: userName ?? "",
        token: str(u["token"]),
        tokenFile: abs(u["tokenFile"]),
        certFile: abs(u["client-certificate"]),
        certData: str(u["client-certificate-data"]),
        keyFile: abs(u["client-key"]),
        keyData: str(u["client-key-data"]),
        username: str(u["username"]),
        password: str(u["password"]),
      },
    );
  }

  /** In a pod: the API server's Service from the environment, the service account's token and CA. */
  loadFromCluster(dir = serviceAccountDir): void {
    const host = process.env["KUBERNETES_SERVICE_HOST"];
    const port = process.env["KUBERNETES_SERVICE_PORT"];
    if (!host || !port) throw new Error("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
    this.setCluster(
      {
        name: "inCluster",
        server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
        caFile: join(dir, "ca.crt"),
      },
      { name: "inClusterUser", tokenFile: join(dir, "token") },
    );
  }

  /** As client-go: $KUBECONFIG (its first file), ~/.kube/config, then the pod's service account. */
  loadFromDefault(): void {
    const env = (process.env["KUBECONFIG"] ?? "").split(":").find(Boolean);
    if (env) return this.loadFromFile(env);
    const home = join(homedir(), ".kube", "config");
    if (existsSync(home)) return this.loadFromFile(home);
    if (process.env["KUBERNETES_SERVICE_HOST"] && existsSync(join(serviceAccountDir, "token"))) {
      return this.loadFromCluster();
    }
    this.setCluster({ name: "cluster", server: "http://localhost:8080" }, { name: "user" });
  }

  getCurrentCluster(): Cluster | null {
    return this.cluster;
  }

  getCurrentUser(): User | null {
    return this.user;
  }

  /** For code written against client-node: `kc.makeApiClient(CoreV1Api)` with operator/runtime/kube-api.ts's classes. */
  makeApiClient<T>(api: new (conn: KubeConnection) => T): T {
    return new api(this);
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const user = this.user;
    // Files are read again as often as kube-client.ts makes a new pool (rotated certificates).
    const now = Date.now();
    if (!this.tls || now - this.tls.at >= tlsRereadMs) this.tls = { at: now, options: this.tlsOptions() };
    Object.assign(opts, this.tls.options);
    const token = this.bearer();
    const headers = (opts.headers ??= {}) as Record<string, string>;
    if (token) headers["authorization"] = `Bearer ${token}`;
    if (user?.username !== undefined) opts.auth = `${user.username}:${user.password ?? ""}`;
    return Promise.resolve();
  }

  private setCluster(cluster: Cluster, user: User): void {
    this.cluster = cluster;
    this.user = user;
    this.tls = undefined;
    this.token = undefined;
  }

  private tlsOptions(): NonNullable<ObservedKubeConfig["tls"]>["options"] {
    const c = this.cluster;
    const u = this.user;
    const bytes = (file: string | undefined, data: string | undefined): Buffer | undefined =>
      file ? readFileSync(file) : data ? Buffer.from(data, "base64") : undefined;
    const ca = bytes(c?.caFile, c?.caData);
    const cert = bytes(u?.certFile, u?.certData);
    const key = bytes(u?.keyFile, u?.keyData);
    return {
      ...(ca && { ca }),
      ...(cert && { cert }),
      ...(key && { key }),
      ...(c?.skipTLSVerify && { rejectUnauthorized: false }),
      ...(c?.tlsServerName && { servername: c.tlsServerName }),
    };
  }

  private bearer(): string | undefined {
    const u = this.user;
    if (u?.token) return u.token;
    if (!u?.tokenFile) return undefined;
    const now = Date.now();
    if (!this.token || now - this.token.at >= tokenRereadMs) {
      this.token = { value: readFileSync(u.tokenFile, "utf8").trim(), at: now };
    }
    return this.token.value;
  }
}

export function loadKubeConfig(path: string | undefined): ObservedKubeConfig {
  const kc = new ObservedKubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
