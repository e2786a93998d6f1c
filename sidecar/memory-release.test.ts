import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { burstWrites, fullCollection, releaseStep, type Gc, type ReleaseState } from "./memory-release.ts";

function run(counts: number[]): boolean[] {
  let state: ReleaseState = { seen: 0, releasedAt: 0 };
  return counts.map((c) => {
    const step = releaseStep(state, c);
    state = step.state;
    return step.collect;
  });
}

describe("releaseStep", () => {
  it("collects once a burst has stopped, and not again until the next burst", () => {
    expect(run([100, burstWrites + 100, burstWrites + 100, burstWrites + 100])).toEqual([
      false,
      false,
      true,
      false,
    ]);
  });

  it("does not collect while requests keep coming", () => {
    expect(run([1000, 2000, 3000, 4000])).toEqual([false, false, false, false]);
  });

  it("does not collect after a trickle smaller than a burst", () => {
    expect(run([10, 10, 20, 20, burstWrites - 1, burstWrites - 1])).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe("fullCollection", () => {
  it("runs a full garbage collection", () => {
    // The gc extension as --expose-gc would install it (taken at run time here, in the test only).
    setFlagsFromString("--expose-gc");
    const collect = fullCollection(runInNewContext("gc") as Gc);
    if (!collect) throw new Error("no collection with a gc function");
    // 200,000 objects that nothing references once this returns.
    const made = ((): number => Array.from({ length: 200_000 }, (_, i) => ({ i })).length)();
    const before = process.memoryUsage().heapUsed;
    collect();
    expect(made).toBe(200_000);
    expect(process.memoryUsage().heapUsed).toBeLessThan(before);
  });
});
