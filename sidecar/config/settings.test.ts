import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configDocument } from "../../api/resolve.ts";
import { concurrencyShare, loadConfigFile } from "./settings.ts";

describe("concurrencyShare", () => {
  it("splits a pod's maxConcurrency over its workers without exceeding it", () => {
    for (const total of [1, 2, 3, 4, 7, 10, 64, 100]) {
      for (const of of [1, 2, 3, 4, 8]) {
        if (of > total) continue;
        const shares = Array.from({ length: of }, (_, i) => concurrencyShare(total, { index: i + 1, of }));
        expect(
          shares.reduce((a, b) => a + b, 0),
          `${total} over ${of}`,
        ).toBe(total);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
  });

  it("keeps one slot per worker when there are more workers than slots", () => {
    expect(concurrencyShare(2, { index: 3, of: 4 })).toBe(1);
  });
});

describe("loadConfigFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "vx-settings-"));
  const write = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const manifest = {
    apiVersion: "veltrix.io/v1alpha1",
    kind: "VeltrixConfig",
    metadata: { name: "shop", namespace: "team" },
    spec: { config: { color: "blue" } },
  };

  it("reads the operator's JSON document, a JSON manifest and a YAML manifest alike", () => {
    const doc = configDocument({ namespace: "team", name: "shop" }, manifest.spec);
    const fromDoc = loadConfigFile(write("doc.json", JSON.stringify(doc)));
    const fromJson = loadConfigFile(write("manifest.json", JSON.stringify(manifest)));
    const fromYaml = loadConfigFile(
      write(
        "manifest.yaml",
        "apiVersion: veltrix.io/v1alpha1\nkind: VeltrixConfig\nmetadata: {name: shop, namespace: team}\nspec:\n  config: {color: blue}\n",
      ),
    );
    expect(fromDoc).toEqual(doc);
    expect(fromJson).toEqual(doc);
    expect(fromYaml).toEqual(doc);
  });

  it("reads YAML that opens with a flow mapping (not JSON)", () => {
    const f = write(
      "flow.yaml",
      "{apiVersion: veltrix.io/v1alpha1, kind: VeltrixConfig, metadata: {name: shop, namespace: team}, spec: {config: {color: blue}}}\n",
    );
    expect(loadConfigFile(f).config).toEqual({ color: "blue" });
  });
});
