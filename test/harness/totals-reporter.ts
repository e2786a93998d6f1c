// Prints the run's totals as one plain line, `N passed, N failed[, N skipped]`,
// which CI reads, and marks the run dir so the harness keeps its logs on failure.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Reporter, SerializedError, TestModule } from "vitest/node";

export default class TotalsReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of modules) {
      // A file that fails to load has no tests; count it as a failure, not as nothing.
      if (mod.state() === "failed" && [...mod.children.allTests()].length === 0) failed++;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    }
    failed += errors.length;
    const runDir = process.env["VELTRIX_TEST_RUN_DIR"];
    if (failed > 0 && runDir) writeFileSync(join(runDir, "TESTS-FAILED"), `${failed} failed\n`);
    console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
  }
}
