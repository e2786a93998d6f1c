// Gives memory back after a burst. V8 keeps the heap a burst grew to (its young generation
// at its ceiling, old space full of garbage from requests long answered) while the sidecar
// idles: no allocation means no GC, and no GC means no shrinking. So once requests have
// come in since the last release and then none for a whole tick, one last-resort full
// collection runs (V8's CollectAllAvailableGarbage, which shrinks the heap and returns the
// pages). Measured: 30 s after 5,000 held requests were answered, 225-237 MiB RSS without it,
// 152-153 MiB with it, against ~100 MiB idle (docs/adr/0009-sidecar-footprint.md).
//
// The collection is the `gc` function that `--expose-gc` (sidecar/node-flags.ts) puts on the
// global object. Not the run-time route (v8.setFlagsFromString("--expose-gc") and `gc` taken
// from a new vm context): with it the sidecar spent ~35 % more CPU per request in both modes
// and `sync` saturated below 5,000 req/s (paired bench/sidecar-proxy.ts runs, ADR 0009).
/** Requests (store writes) since the last release that make it a burst worth collecting. */
export const burstWrites = 500;
/** How long the sidecar must be quiet (no store write) before it collects. */
export const quietMs = 10_000;

export interface ReleaseState {
  /** The activity counter at the last tick. */
  seen: number;
  /** The counter's value when memory was last released (or at start). */
  releasedAt: number;
}

/** One tick: collect when the counter grew by a burst since the last release and stood still since the last tick. */
export function releaseStep(state: ReleaseState, count: number): { state: ReleaseState; collect: boolean } {
  const collect = count === state.seen && count - state.releasedAt >= burstWrites;
  return { state: { seen: count, releasedAt: collect ? count : state.releasedAt }, collect };
}

/** V8's gc extension, as `--expose-gc` installs it. */
export type Gc = (options: { type: "major"; flavor: "last-resort" }) => void;

/** A full collection that reduces the heap's footprint; undefined without `--expose-gc`. */
export function fullCollection(gc = (globalThis as { gc?: Gc }).gc): (() => void) | undefined {
  return gc && (() => gc({ type: "major", flavor: "last-resort" }));
}

/**
 * Checks `activity` (a counter that grows with requests) every `quietMs` and collects after
 * bursts; undefined (nothing started) when the process runs without `--expose-gc`.
 */
export function startMemoryRelease(
  activity: () => number,
  collect = fullCollection(),
): NodeJS.Timeout | undefined {
  if (!collect) return undefined;
  let state: ReleaseState = { seen: activity(), releasedAt: activity() };
  const t = setInterval(() => {
    const step = releaseStep(state, activity());
    state = step.state;
    if (step.collect) collect();
  }, quietMs);
  t.unref();
  return t;
}
