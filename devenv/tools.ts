// Finds the real binaries the tests run (built by scripts/provision-test-env.sh),
// failing with a message that names what is missing and how to get it.
import { accessSync, constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const repoRoot = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

export type Tool =
  | "kube-apiserver"
  | "kube-controller-manager"
  | "kubectl"
  | "etcd"
  | "nats-server"
  | "helm"
  | "vegeta"
  | "go-httpbin"
  | "prometheus"
  | "kubelet"
  | "kube-scheduler"
  | "kube-proxy"
  | "coredns"
  | "pause";

/** Versions pinned in devenv/tools/versions.env (the provisioning script reads the same file). */
export function pinnedVersions(): Record<string, string> {
  const text = readFileSync(join(repoRoot, "devenv/tools/versions.env"), "utf8");
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
    if (m?.[1] && m[2]) out[m[1]] = m[2];
  }
  return out;
}

export function cacheDir(): string {
  return (
    process.env["VELTRIX_CACHE"] ??
    join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "veltrix")
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export class MissingToolError extends Error {
  readonly code = "VX_ERR_TEST_TOOL_MISSING";
  constructor(tool: Tool, looked: string[]) {
    super(
      `${tool} not found (looked in: ${looked.join(", ")}). ` +
        `Run 'bash scripts/provision-test-env.sh' to build it from Go modules into ${join(cacheDir(), "bin")}.`,
    );
    this.name = "MissingToolError";
  }
}

/** Absolute path of a tool: KUBEBUILDER_ASSETS first (kube-apiserver, etcd), then the cache. */
export function toolPath(tool: Tool): string {
  const candidates: string[] = [];
  const assets = process.env["KUBEBUILDER_ASSETS"];
  if (assets) candidates.push(join(assets, tool));
  candidates.push(join(cacheDir(), "bin", tool));
  for (const c of candidates) if (isExecutable(c)) return c;
  throw new MissingToolError(tool, candidates);
}
