import { describe, expect, it } from "vitest";
import { LookupCache } from "./kube-lookups.ts";

describe("lookup cache", () => {
  it("serves fresh hits, refreshes stale ones in the background, never caches misses", async () => {
    let now = 0;
    const cache = new LookupCache<string>(1_000, () => now);
    let calls = 0;
    let value: string | undefined = "v1";
    const load = () => {
      calls++;
      return Promise.resolve(value);
    };
    expect(await cache.get("k", load)).toBe("v1");
    now = 500;
    expect(await cache.get("k", load)).toBe("v1");
    expect(calls).toBe(1);
    value = "v2";
    now = 1_500; // stale: answered from cache at once, refreshed behind
    expect(await cache.get("k", load)).toBe("v1");
    await Promise.resolve();
    expect(calls).toBe(2);
    expect(await cache.get("k", load)).toBe("v2");
    now = 5_000; // too old: waits for the load
    value = undefined;
    expect(await cache.get("k", load)).toBeUndefined();
    value = "v3";
    expect(await cache.get("k", load)).toBe("v3");
  });

  it("shares one load between concurrent misses", async () => {
    const cache = new LookupCache<string>(1_000, () => 0);
    let calls = 0;
    let release: (v: string) => void = () => {};
    const load = () => {
      calls++;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const all = Promise.all([cache.get("k", load), cache.get("k", load), cache.get("k", load)]);
    release("v");
    expect(await all).toEqual(["v", "v", "v"]);
    expect(calls).toBe(1);
  });
});
