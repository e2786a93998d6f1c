import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { keepOnly, withoutManagedFields } from "./informer.ts";
import { ObservedKubeConfig } from "./kube-config.ts";

const dir = mkdtempSync(join(tmpdir(), "vx-kubeconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Config",
  clusters: [
    { name: "other", cluster: { server: "https://other:6443" } },
    { name: "c", cluster: { server: "https://127.0.0.1:6443", ...cluster } },
  ],
  users: [{ name: "u", user }],
  contexts: [
    { name: "first", context: { cluster: "other", user: "u" } },
    { name: "ctx", context: { cluster: "c", user: "u" } },
  ],
  "current-context": "ctx",
});

async function applied(kc: ObservedKubeConfig): Promise<RequestOptions> {
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return opts;
}

describe("ObservedKubeConfig", () => {
  it("reads a JSON kubeconfig's current context: server, CA and token", async () => {
    const file = join(dir, "json");
    const ca = Buffer.from("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    writeFileSync(
      file,
      JSON.stringify(kubeconfig({ token: "abc" }, { "certificate-authority-data": ca.toString("base64") })),
    );
    const kc = new ObservedKubeConfig();
    kc.loadFromFile(file);
    expect(kc.getCurrentCluster()?.server).toBe("https://127.0.0.1:6443");
    const opts = await applied(kc);
    expect(opts.headers).toEqual({ authorization: "Bearer abc" });
    expect(Buffer.from(opts.ca as Buffer).equals(ca)).toBe(true);
    expect(opts.rejectUnauthorized).toBeUndefined();
  });

  it("reads YAML, with files relative to the kubeconfig and a token file", async () => {
    writeFileSync(join(dir, "ca.crt"), "CA");
    writeFileSync(join(dir, "client.crt"), "CERT");
    writeFileSync(join(dir, "client.key"), "KEY");
    writeFileSync(join(dir, "token"), "from-file\n");
    const file = join(dir, "yaml");
    writeFileSync(
      file,
      stringify(
        kubeconfig(
          { "client-certificate": "client.crt", "client-key": "client.key", tokenFile: "token" },
          { "certificate-authority": "ca.crt", "insecure-skip-tls-verify": true, "tls-server-name": "api" },
        ),
      ),
    );
    const kc = new ObservedKubeConfig();
    kc.loadFromFile(file);
    const opts = await applied(kc);
    expect(String(opts.ca)).toBe("CA");
    expect(String(opts.cert)).toBe("CERT");
    expect(String(opts.key as Buffer)).toBe("KEY");
    expect(opts.rejectUnauthorized).toBe(false);
    expect(opts.servername).toBe("api");
    expect(opts.headers).toEqual({ authorization: "Bearer from-file" });
  });

  it("refuses exec and auth-provider users with a message", () => {
    const file = join(dir, "exec");
    writeFileSync(file, JSON.stringify(kubeconfig({ exec: { command: "aws" } })));
    expect(() => new ObservedKubeConfig().loadFromFile(file)).toThrow(
      /exec, which the operator does not support/,
    );
  });

  it("in a pod: the API server's Service address, the service account's CA and token", async () => {
    const sa = mkdtempSync(join(dir, "sa-"));
    writeFileSync(join(sa, "ca.crt"), "POD-CA");
    writeFileSync(join(sa, "token"), "pod-token");
    const saved = {
      host: process.env["KUBERNETES_SERVICE_HOST"],
      port: process.env["KUBERNETES_SERVICE_PORT"],
    };
    process.env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
    process.env["KUBERNETES_SERVICE_PORT"] = "443";
    try {
      const kc = new ObservedKubeConfig();
      kc.loadFromCluster(sa);
      expect(kc.getCurrentCluster()?.server).toBe("https://[fd00::1]:443");
      const opts = await applied(kc);
      expect(String(opts.ca)).toBe("POD-CA");
      expect(opts.headers).toEqual({ authorization: "Bearer pod-token" });
    } finally {
      for (const [k, v] of [
        ["KUBERNETES_SERVICE_HOST", saved.host],
        ["KUBERNETES_SERVICE_PORT", saved.port],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe("informer transforms", () => {
  it("drop managedFields and kubectl's last-applied copy, keeping the rest", () => {
    const obj = {
      metadata: {
        name: "a",
        managedFields: [{ manager: "kubectl" }],
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", keep: "1" },
      },
      spec: { x: 1 },
    };
    expect(withoutManagedFields(obj)).toEqual({
      metadata: { name: "a", annotations: { keep: "1" } },
      spec: { x: 1 },
    });
    expect(obj.metadata.managedFields).toHaveLength(1); // the input is not changed
  });

  it("keepOnly keeps the named fields", () => {
    const pod = {
      metadata: { name: "p", namespace: "n", labels: { a: "b" }, managedFields: [], annotations: { x: "y" } },
      spec: { containers: [] },
      status: { phase: "Running" },
    };
    expect(keepOnly<typeof pod>(["name", "namespace", "labels", "deletionTimestamp"])(pod)).toEqual({
      metadata: { name: "p", namespace: "n", labels: { a: "b" } },
    });
  });
});

describe("the operator's import graph", () => {
  it("does not load @kubernetes/client-node at run time (types only)", () => {
    // A fresh Node process imports the operator's entry point (main() does not run on import)
    // and lists every module it resolved.
    const script = [
      'import { registerHooks } from "node:module";',
      "const seen = [];",
      "registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.push(r.url); return r; } });",
      'await import(new URL("operator/main.ts", `file://${process.cwd()}/`).href);',
      "console.log(JSON.stringify(seen));",
    ].join("\n");
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    const urls = JSON.parse(out) as string[];
    expect(urls.some((u) => u.includes("/operator/runtime/kube-api.ts"))).toBe(true);
    expect(urls.filter((u) => u.includes("@kubernetes/client-node"))).toEqual([]);
  });
});
