import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MissingToolError, pinnedVersions, toolPath } from "../../devenv/tools.ts";

describe("test tool discovery", () => {
  const saved = { cache: process.env["VELTRIX_CACHE"], assets: process.env["KUBEBUILDER_ASSETS"] };
  const emptyCache = (): string => {
    const d = mkdtempSync(join(tmpdir(), "vx-empty-"));
    made.push(d);
    return d;
  };
  const made: string[] = [];
  afterEach(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
    if (saved.cache === undefined) delete process.env["VELTRIX_CACHE"];
    else process.env["VELTRIX_CACHE"] = saved.cache;
    if (saved.assets === undefined) delete process.env["KUBEBUILDER_ASSETS"];
    else process.env["KUBEBUILDER_ASSETS"] = saved.assets;
  });

  it("pins every component's version in one file", () => {
    const v = pinnedVersions();
    for (const key of ["KUBERNETES_VERSION", "ETCD_VERSION", "NATS_SERVER_VERSION", "HELM_VERSION"]) {
      expect(v[key], key).toMatch(/^v\d+\.\d+\.\d+$/);
    }
  });

  it("names the missing tool and the command that provides it", () => {
    process.env["VELTRIX_CACHE"] = emptyCache();
    delete process.env["KUBEBUILDER_ASSETS"];
    expect(() => toolPath("kube-apiserver")).toThrow(MissingToolError);
    expect(() => toolPath("kube-apiserver")).toThrow(/kube-apiserver not found.*provision-test-env\.sh/);
  });

  it("prefers KUBEBUILDER_ASSETS when it holds the binary", () => {
    const real = toolPath("etcd");
    process.env["KUBEBUILDER_ASSETS"] = join(real, "..");
    process.env["VELTRIX_CACHE"] = emptyCache();
    expect(toolPath("etcd")).toBe(join(real, "..", "etcd"));
  });
});
