// Golden tests: every operator/webhook/testdata/golden/*.yaml is a pod (plus an optional
// `kind: TestCase` document for the namespace, config and options); beside it,
// *.yaml.injected holds the outcome (the patched pod, or the skip/refusal) and the
// warnings the user would see (on a patched pod, as comments above it).
// UPDATE_GOLDEN=1 rewrites them and removes stale ones; otherwise a stale or
// missing golden fails.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import type { InjectionConfig, InjectionOptions } from "./config-input.ts";
import { applyPatch, type JsonValue } from "./json-patch.ts";
import { planInjection } from "./plan.ts";
import { maxWarningLength, warningPrefix } from "./warnings.ts";
import { goldenConfig, goldenOptions } from "./testdata/fixtures.ts";
import type { NamespaceInfo, Pod } from "./pod.ts";

const dir = fileURLToPath(new URL("./testdata/golden/", import.meta.url));
const update = process.env["UPDATE_GOLDEN"] === "1";

interface TestCase {
  namespace?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  config?:
    | "missing"
    | {
        store?: InjectionConfig["store"];
        sidecar?: Partial<InjectionConfig["sidecar"]>;
        notReady?: InjectionConfig["notReady"];
      };
  options?: Partial<InjectionOptions>;
}

function load(file: string): { pod: Pod; testCase: TestCase } {
  const docs = parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((d) => d.toJS() as unknown);
  const [pod, testCase] = docs as [Pod, TestCase | undefined];
  return { pod, testCase: testCase ?? {} };
}

function outcome(file: string): string {
  const { pod, testCase } = load(file);
  const namespace: NamespaceInfo = {
    name: "shop",
    labels: testCase.namespace?.labels ?? {},
    annotations: testCase.namespace?.annotations ?? {},
  };
  const c = testCase.config;
  const config =
    c === "missing"
      ? undefined
      : {
          ...goldenConfig,
          sidecar: { ...goldenConfig.sidecar, ...c?.sidecar },
          store: { ...goldenConfig.store, ...c?.store },
          ...(c?.notReady && { notReady: c.notReady }),
        };
  const options = { ...goldenOptions, ...testCase.options };
  const plan = planInjection(pod, namespace, config, options);
  switch (plan.kind) {
    case "skip":
      return stringify({
        outcome: "skip",
        reason: plan.reason,
        message: plan.message,
        ...(plan.warnings.length > 0 && { warnings: plan.warnings }),
      });
    case "refuse":
      return stringify({ outcome: "refuse", problems: plan.problems });
    case "inject": {
      // The patch, applied as the API server would, gives the pod we expect.
      const patched = applyPatch(pod as unknown as JsonValue, plan.patch) as unknown as Pod;
      const expected = structuredClone(plan.pod);
      if (pod.metadata?.managedFields) (expected.metadata ??= {}).managedFields = pod.metadata.managedFields;
      expect(patched).toEqual(expected);
      expect(plan.patch.some((op) => op.path.includes("managedFields"))).toBe(false);
      // Injecting the result again is a no-op (reinvocationPolicy: IfNeeded).
      const again = planInjection(patched, namespace, config, options);
      expect(again).toMatchObject({ kind: "skip", reason: "already-injected" });
      const comments = plan.warnings.map((w) => `# warning: ${w}\n`).join("");
      return comments + stringify(patched);
    }
  }
}

const inputs = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe("golden injection corpus", () => {
  it("has inputs", () => {
    expect(inputs.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of inputs) {
    it(file, () => {
      const got = outcome(file);
      const goldenPath = join(dir, `${file}.injected`);
      if (update) writeFileSync(goldenPath, got);
      expect(existsSync(goldenPath), `${goldenPath} is missing: run with UPDATE_GOLDEN=1`).toBe(true);
      expect(got).toBe(readFileSync(goldenPath, "utf8"));
    });
  }

  it("gives warnings kubectl shows whole: prefixed, at most 256 characters", () => {
    const plans = inputs.map((file) => {
      const { pod, testCase } = load(file);
      const namespace = { name: "shop", labels: {}, annotations: testCase.namespace?.annotations ?? {} };
      return planInjection(pod, namespace, goldenConfig, { ...goldenOptions, ...testCase.options });
    });
    const warnings = plans.flatMap((plan) => (plan.kind === "refuse" ? [] : plan.warnings));
    expect(warnings.length).toBeGreaterThanOrEqual(8);
    for (const warning of warnings) {
      expect(warning.startsWith(warningPrefix), warning).toBe(true);
      expect(warning.length, warning).toBeLessThanOrEqual(maxWarningLength);
    }
  });

  it("has no stale goldens", () => {
    const stale = readdirSync(dir).filter(
      (f) => f.endsWith(".yaml.injected") && !inputs.includes(f.slice(0, -".injected".length)),
    );
    if (update) for (const f of stale) rmSync(join(dir, f));
    else expect(stale, "goldens without an input: run with UPDATE_GOLDEN=1").toEqual([]);
  });
});
