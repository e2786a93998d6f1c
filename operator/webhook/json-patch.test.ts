import { describe, expect, it } from "vitest";
import { applyPatch, diffJson, type JsonValue } from "./json-patch.ts";

describe("JSON patch diff and apply", () => {
  const cases: [string, JsonValue, JsonValue][] = [
    ["equal", { a: 1 }, { a: 1 }],
    ["add and remove keys", { a: 1, b: 2 }, { a: 1, c: { d: [1] } }],
    ["escaped keys", { "a/b": { "c~d": 1 } }, { "a/b": { "c~d": 2, "x/y": 3 } }],
    ["array grows at the end", { l: [1, 2] }, { l: [1, 2, 3, 4] }],
    ["array grows at the front", { l: [{ n: 1 }] }, { l: [{ n: 0 }, { n: 1 }] }],
    ["array element changes", { l: [{ n: 1, e: [] }] }, { l: [{ n: 1, e: [{ x: 1 }] }] }],
    ["array shrinks", { l: [1, 2, 3] }, { l: [1] }],
    ["type change", { a: [1] }, { a: { b: 1 } }],
  ];
  for (const [name, from, to] of cases) {
    it(name, () => {
      const patch = diffJson(from, to);
      expect(applyPatch(from, patch)).toEqual(to);
      if (name === "equal") expect(patch).toEqual([]);
    });
  }

  it("emits adds at indexes for appended elements and escapes tokens", () => {
    expect(diffJson({ l: [1] }, { l: [1, 2] })).toEqual([{ op: "add", path: "/l/1", value: 2 }]);
    expect(diffJson({}, { "a/b~": 1 })).toEqual([{ op: "add", path: "/a~1b~0", value: 1 }]);
  });

  it("refuses paths that do not resolve", () => {
    expect(() => applyPatch({}, [{ op: "replace", path: "/a", value: 1 }])).toThrow(/does not exist/);
    expect(() => applyPatch({}, [{ op: "add", path: "/a/b", value: 1 }])).toThrow(/does not exist/);
  });
});
