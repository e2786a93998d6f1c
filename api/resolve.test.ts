import { describe, expect, it } from "vitest";
import {
  applyDefaults,
  canonicalJson,
  configDocument,
  parseDuration,
  resolveConfig,
  revisionOf,
} from "./resolve.ts";

const ref = { namespace: "shop", name: "checkout" };

describe("configDocument and revision", () => {
  it("fills the CRD defaults so a bare spec and a defaulted one hash the same", () => {
    const bare = configDocument(ref, { config: { a: "1" } });
    const explicit = configDocument(ref, {
      config: { a: "1" },
      queue: { mode: "sync", maxConcurrency: 10, stream: { maxAge: "24h" } },
      store: { retention: "1h" },
    });
    expect(bare.queue.maxConcurrency).toBe(10);
    expect(bare.queue.overflow).toEqual({ status: 503, retryAfter: "5s" });
    expect(bare.store.volume.kind).toBe("emptyDir");
    expect(bare.revision).toMatch(/^[0-9a-f]{16}$/);
    expect(explicit.revision).toBe(bare.revision);
  });

  it("does not depend on key order", () => {
    const a = configDocument(ref, { config: { a: "1", b: "2" } });
    const b = configDocument(ref, { config: { b: "2", a: "1" } });
    expect(a.revision).toBe(b.revision);
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });

  it("changes with what sidecars apply, not with injection-only settings", () => {
    const base = configDocument(ref, { config: { a: "1" } });
    expect(configDocument(ref, { config: { a: "2" } }).revision).not.toBe(base.revision);
    expect(configDocument(ref, { config: { a: "1" }, queue: { maxConcurrency: 11 } }).revision).not.toBe(
      base.revision,
    );
    expect(configDocument({ ...ref, name: "other" }, { config: { a: "1" } }).revision).not.toBe(
      base.revision,
    );
    expect(
      configDocument(ref, { config: { a: "1" }, sidecar: { image: "x:2", ports: { proxy: 1 } } }).revision,
    ).toBe(base.revision);
    const { revision, ...body } = base;
    expect(revisionOf(body)).toBe(revision);
  });

  it("does not mutate the spec it is given", () => {
    const spec = { queue: { maxConcurrency: 3 } };
    applyDefaults(spec);
    expect(spec).toEqual({ queue: { maxConcurrency: 3 } });
  });
});

describe("resolveConfig", () => {
  const doc = configDocument(ref, {
    config: { tier: "standard", timeout: "5" },
    overrides: [
      { name: "v2", match: { pathPrefix: "/api/v2/" }, config: { timeout: "10" } },
      { name: "beta", match: { headers: { "x-beta": "1" } }, config: { tier: "beta" } },
      {
        name: "both",
        match: { pathPrefix: "/api/v2/", headers: { "x-beta": "1" } },
        config: { timeout: "1" },
      },
    ],
  });

  it("returns the base config when nothing matches", () => {
    expect(resolveConfig(doc, { path: "/", headers: {} })).toEqual({
      config: { tier: "standard", timeout: "5" },
      applied: [],
    });
  });

  it("merges matching overrides in order, later ones winning", () => {
    expect(resolveConfig(doc, { path: "/api/v2/x", headers: { "x-beta": "1" } })).toEqual({
      config: { tier: "beta", timeout: "1" },
      applied: ["v2", "beta", "both"],
    });
    expect(resolveConfig(doc, { path: "/api/v2/x", headers: { "x-beta": "0" } }).applied).toEqual(["v2"]);
    expect(resolveConfig(doc, { path: "/", headers: { "x-beta": ["2", "1"] } }).applied).toEqual(["beta"]);
  });
});

describe("parseDuration", () => {
  it("parses Go durations", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1.5s")).toBe(1_500);
    expect(parseDuration("250ms")).toBe(250);
  });
  it("refuses malformed ones", () => {
    for (const bad of ["", "30", "s", "1d", "1h 2m", "-1s"])
      expect(() => parseDuration(bad)).toThrow(/invalid duration/);
  });
});
