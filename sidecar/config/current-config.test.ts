import { describe, expect, it } from "vitest";
import { configDocument } from "../../api/resolve.ts";
import { CurrentConfig, resolveIn } from "./current-config.ts";

const ref = { namespace: "ns", name: "app" };
const doc1 = configDocument(ref, {
  config: { color: "blue", size: "m" },
  overrides: [
    { name: "v2", match: { pathPrefix: "/v2/" }, config: { color: "green" } },
    { name: "beta", match: { headers: { "x-tier": "beta" } }, config: { size: "l" } },
  ],
});
const doc2 = configDocument(ref, { config: { color: "red" } });

describe("CurrentConfig", () => {
  it("resolves per request once per combination of matching overrides", () => {
    const c = new CurrentConfig(doc1);
    const a = c.resolve("/v2/x", { "x-tier": "beta" });
    expect(a.key).toBe(`${doc1.revision}+v2+beta`);
    expect(JSON.parse(a.json)).toEqual({
      revision: doc1.revision,
      overrides: ["v2", "beta"],
      config: { color: "green", size: "l" },
    });
    expect(a.isNew).toBe(true);
    expect(c.resolve("/v2/y", { "x-tier": "beta" }).isNew).toBe(false);
    expect(c.resolve("/", {}).key).toBe(doc1.revision);
  });

  it("switches atomically; a revision captured before keeps resolving to its own config", () => {
    const c = new CurrentConfig(doc1);
    const admitted = c.current;
    const seen: string[] = [];
    c.onChange((r) => seen.push(r.doc.revision));
    expect(c.apply(doc2)).toBe(true);
    expect(c.apply(doc2)).toBe(false);
    expect(seen).toEqual([doc2.revision]);
    const color = (json: string): string | undefined =>
      (JSON.parse(json) as { config: Record<string, string> }).config["color"];
    expect(color(resolveIn(admitted, "/v2/", {}).json)).toBe("green");
    expect(color(c.resolve("/v2/", {}).json)).toBe("red");
  });
});
