// Global setup of the `node` project: only a run dir (each node test file starts its own
// cluster in its own network namespace). Logs stay when a test failed or with
// VELTRIX_KEEP_TEST_LOGS=1.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { repoRoot } from "../../devenv/tools.ts";

export const nodeFailedMarker = "NODE-TESTS-FAILED";

export default function setup(project: TestProject): () => void {
  const runDir = join(
    repoRoot,
    ".tmp",
    "test-runs",
    `node-${new Date().toISOString().replace(/[:.]/g, "-")}`,
  );
  mkdirSync(runDir, { recursive: true });
  project.provide("runDir", runDir);
  return () => {
    const keep = process.env["VELTRIX_KEEP_TEST_LOGS"] === "1" || existsSync(join(runDir, nodeFailedMarker));
    if (keep) console.error(`veltrix: node test logs kept in ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
  };
}
