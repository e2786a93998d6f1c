// Drift check: the generated types and docs/crd.md must match crds/veltrixconfig.yaml.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { generated, loadCrd, rootSchema } from "./generate-api.ts";
import { specDefaults } from "../api/types.generated.ts";

describe("generated from the CRD", () => {
  it("types.generated.ts and docs/crd.md are up to date (run node scripts/generate-api.ts)", async () => {
    for (const { path, text } of await generated()) {
      expect(readFileSync(path, "utf8"), `${path} is stale`).toBe(text);
    }
  });

  it("documents every spec field with a description", () => {
    const missing: string[] = [];
    const walk = (s: ReturnType<typeof rootSchema>, path: string): void => {
      if (!s.description && !path.endsWith("[]")) missing.push(path);
      for (const [k, p] of Object.entries(s.properties ?? {})) walk(p, `${path}.${k}`);
      if (s.items) walk(s.items, `${path}[]`);
    };
    const spec = rootSchema(loadCrd()).properties?.["spec"];
    if (spec) walk(spec, "spec");
    expect(missing).toEqual([]);
  });

  it("exposes the schema defaults", () => {
    expect(specDefaults.queue.mode).toBe("sync");
    // No CRD default for the sidecar's ports or the store size: the cluster (chart) defaults
    // would never apply under them (operator/webhook/config-input.ts merges the layers).
    expect(specDefaults.sidecar).toEqual({});
    expect(specDefaults.store).toEqual({ retention: "1h", volume: { kind: "emptyDir" } });
  });
});
