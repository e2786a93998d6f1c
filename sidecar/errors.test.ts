import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sidecarErrors } from "../api/errors.ts";

describe("error table", () => {
  it("matches the table in docs/sidecar.md, code for code and status for status", () => {
    const text = readFileSync(join(import.meta.dirname, "..", "docs", "sidecar.md"), "utf8");
    const start = text.indexOf("## Errors");
    const doc = text.slice(start, text.indexOf("\n## ", start + 1));
    const rows = new Map<string, string>();
    for (const m of doc.matchAll(/^\|\s*`(VX_ERR_[A-Z_]+)`\s*\|\s*([^|]+?)\s*\|/gm))
      rows.set(m[1] ?? "", (m[2] ?? "").trim());
    expect([...rows.keys()].sort()).toEqual(Object.keys(sidecarErrors).sort());
    for (const [code, { status }] of Object.entries(sidecarErrors)) {
      expect(rows.get(code), code).toContain(String(status));
    }
  });
});
