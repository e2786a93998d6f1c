// Preloaded into the sidecar by `VX_BENCH_FORCE_GC=1 node bench/sidecar-memory.ts`
// (with --expose-gc): a full GC every 500 ms, so RSS shows live memory, not garbage.
setInterval(() => (globalThis as { gc?: () => void }).gc?.(), 500).unref();
