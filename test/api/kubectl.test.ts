// What a cluster admin types: `kubectl apply -f crds/`, the samples, `kubectl get vxc`
// and `kubectl explain`, with the real kubectl against the real API server.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { createNamespace } from "../harness/env.ts";
import { repoRoot, toolPath } from "../../devenv/tools.ts";

const run = promisify(execFile);

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(toolPath("kubectl"), args, {
    env: { PATH: process.env["PATH"], KUBECONFIG: inject("kubeconfigPath"), HOME: inject("runDir") },
  });
  return stdout;
}

describe("kubectl with the VeltrixConfig CRD", () => {
  it("applies crds/ and the samples, lists them with the printer columns, and explains the fields", async () => {
    const applied = await kubectl("apply", "-f", join(repoRoot, "crds"));
    expect(applied).toMatch(
      /customresourcedefinition.apiextensions.k8s.io\/veltrixconfigs.veltrix.io (created|configured|unchanged)/,
    );
    await kubectl("wait", "--for=condition=Established", "--timeout=30s", "crd/veltrixconfigs.veltrix.io");

    const namespace = await createNamespace("kubectl");
    const samples = await kubectl("apply", "-n", namespace, "-f", join(repoRoot, "crds/samples"));
    expect(samples).toContain("veltrixconfig.veltrix.io/minimal created");
    expect(samples).toContain("veltrixconfig.veltrix.io/checkout created");

    const table = await kubectl("get", "vxc", "-n", namespace);
    const header = table.split("\n")[0] ?? "";
    expect(header.split(/\s+/).filter(Boolean)).toEqual([
      "NAME",
      "READY",
      "MODE",
      "CONCURRENCY",
      "REVISION",
      "PODS",
      "QUEUE",
      "AGE",
    ]);
    expect(table).toMatch(/checkout\s+\S*\s*sync\s+32/);

    const explained = await kubectl("explain", "vxc.spec.queue");
    expect(explained).toContain("maxConcurrency");
    expect(explained).toMatch(/DESCRIPTION/);
  });
});
