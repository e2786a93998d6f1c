import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { describe, expect, inject, it } from "vitest";
import { createNamespace, kubeConfig, tempDir } from "../harness/env.ts";
import { helm } from "../../devenv/helm.ts";
import { pinnedVersions, repoRoot } from "../../devenv/tools.ts";

const chart = join(repoRoot, "test/fixtures/charts/hello");

describe("helm (real binary)", () => {
  it("reports the pinned version", async () => {
    const { stdout } = await helm(["version", "--short"], { home: tempDir("helm") });
    expect(stdout.trim()).toContain(pinnedVersions()["HELM_VERSION"]);
  });

  it("renders a chart with values", async () => {
    const { stdout } = await helm(["template", "demo", chart, "--set", "greeting=hi there"], {
      home: tempDir("helm"),
    });
    expect(stdout).toContain("name: demo-greeting");
    expect(stdout).toContain('greeting: "hi there"');
  });

  it("installs into the test API server", async () => {
    const namespace = await createNamespace("smoke-helm");
    const home = tempDir("helm");
    await helm(["install", "demo", chart, "--namespace", namespace, "--wait", "--timeout", "60s"], {
      home,
      kubeconfig: inject("kubeconfigPath"),
    });
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const cm = await core.readNamespacedConfigMap({ name: "demo-greeting", namespace });
    expect(cm.data).toEqual({ greeting: "hello" });
  });
});
