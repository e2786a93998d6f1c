// The layout rules in eslint.config.js fail on deliberate violations: probe files are
// written into the real folders, linted with the project's own config, and removed.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ESLint } from "eslint";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const probeName = `zz-layout-probe-${process.pid}`;
const probeDirs: string[] = [];

async function lintProbe(folder: string, files: Record<string, string>): Promise<string[]> {
  const dir = join(root, folder, probeName);
  probeDirs.push(dir);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const eslint = new ESLint({ cwd: root });
  const results = await eslint.lintFiles(Object.keys(files).map((name) => join(dir, name)));
  return results.flatMap((r) => r.messages.map((m) => `${m.ruleId ?? "fatal"}: ${m.message}`));
}

afterAll(() => {
  for (const dir of probeDirs) rmSync(dir, { recursive: true, force: true });
});

describe("layout rules", { timeout: 120_000 }, () => {
  it("sidecar never imports operator", async () => {
    const found = await lintProbe("sidecar", {
      "a.ts":
        'import { errorCodes } from "../../operator/runtime/errors.ts";\nexport const x = errorCodes;\n',
    });
    expect(found.join("\n")).toMatch(/no-restricted-imports: .*sidecar never imports operator/);
  });

  it("product code never imports test/", async () => {
    const found = await lintProbe("operator", {
      "a.ts": 'import { kubeConfig } from "../../test/harness/env.ts";\nexport const x = kubeConfig;\n',
    });
    expect(found.join("\n")).toMatch(/never imports test\//);
  });

  it("api/ imports nothing internal", async () => {
    const found = await lintProbe("api", {
      "a.ts": 'import { createLogger } from "../../lib/log.ts";\nexport const x = createLogger;\n',
    });
    expect(found.join("\n")).toMatch(/imports nothing internal/);
  });

  it("no import cycles", async () => {
    const found = await lintProbe("sidecar", {
      "b.ts": 'import { c } from "./c.ts";\nexport const b = (): number => c + 1;\n',
      "c.ts": 'import { b } from "./b.ts";\nexport const c = 1;\nexport const d = b;\n',
    });
    expect(found.join("\n")).toMatch(/import-x\/no-cycle/);
  });

  it("the same probes pass when they keep the rules (the checks are not vacuous)", async () => {
    const found = await lintProbe("lib", {
      "e.ts": 'import { group } from "../../api/contract.ts";\nexport const e = group;\n',
    });
    expect(found).toEqual([]);
  });
});
