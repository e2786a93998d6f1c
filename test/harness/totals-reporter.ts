// Prints the run's totals as one plain line, `N passed, N failed[, N skipped]`,
// which CI reads, and marks the run dir so the harness keeps its logs on failure.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Reporter, SerializedError, TestCase, TestModule, TestSuite } from "vitest/node";

/** A test vitest skipped because a hook of its suite or file failed did not pass: it failed. */
function underFailedSuite(test: TestCase): boolean {
  let parent: TestSuite | TestModule = test.parent;
  for (;;) {
    if (parent.state() === "failed") return true;
    if (parent.type === "module") return false;
    parent = parent.parent;
  }
}

export default class TotalsReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of modules) {
      const tests = [...mod.children.allTests()];
      // A file that fails to load has no tests; count it as a failure, not as nothing.
      if (mod.state() === "failed" && tests.length === 0) failed++;
      for (const test of tests) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed" || underFailedSuite(test)) failed++;
        else skipped++;
      }
    }
    failed += errors.length;
    const runDir = process.env["VELTRIX_TEST_RUN_DIR"];
    if (failed > 0 && runDir) writeFileSync(join(runDir, "TESTS-FAILED"), `${failed} failed\n`);
    console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
  }
}
