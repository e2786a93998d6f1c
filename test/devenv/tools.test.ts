import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MissingToolError, pinnedVersions, toolPath } from "../../devenv/tools.ts";

describe("test tool discovery", () => {
  const saved = { cache: process.env["VELTRIX_CACHE"], assets: process.env["KUBEBUILDER_ASSETS"] };
  afterEach(() => {
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
    process.env["VELTRIX_CACHE"] = mkdtempSync(join(tmpdir(), "vx-empty-"));
    delete process.env["KUBEBUILDER_ASSETS"];
    expect(() => toolPath("kube-apiserver")).toThrow(MissingToolError);
    expect(() => toolPath("kube-apiserver")).toThrow(/kube-apiserver not found.*provision-test-env\.sh/);
  });

  it("prefers KUBEBUILDER_ASSETS when it holds the binary", () => {
    const real = toolPath("etcd");
    process.env["KUBEBUILDER_ASSETS"] = join(real, "..");
    process.env["VELTRIX_CACHE"] = mkdtempSync(join(tmpdir(), "vx-empty-"));
    expect(toolPath("etcd")).toBe(join(real, "..", "etcd"));
  });
});
