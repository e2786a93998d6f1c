// Starts the shared real environment once per test run and hands its addresses to
// the test files through vitest's provide/inject. Logs stay in the run dir when a
// test failed (the totals reporter marks it) or VELTRIX_KEEP_TEST_LOGS=1.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startControlPlane } from "../../devenv/control-plane.ts";
import { startNats } from "../../devenv/nats.ts";
import { repoRoot } from "../../devenv/tools.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfigPath: string;
    natsUrl: string;
    runDir: string;
  }
}

export const failedMarker = "TESTS-FAILED";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runDir = join(repoRoot, ".tmp", "test-runs", new Date().toISOString().replace(/[:.]/g, "-"));
  mkdirSync(runDir, { recursive: true });
  process.env["VELTRIX_TEST_RUN_DIR"] = runDir;
  const nats = await startNats({ dir: runDir });
  const controlPlane = await startControlPlane({ dir: runDir });
  project.provide("kubeconfigPath", controlPlane.kubeconfigPath);
  project.provide("natsUrl", nats.url);
  project.provide("runDir", runDir);
  return async () => {
    await controlPlane.stop();
    await nats.stop();
    const keep = process.env["VELTRIX_KEEP_TEST_LOGS"] === "1" || existsSync(join(runDir, failedMarker));
    if (keep) console.error(`veltrix: test logs kept in ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
  };
}
