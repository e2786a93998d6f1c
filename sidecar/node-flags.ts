// The Node/V8 flags the sidecar runs with, wherever it is started: the image's CMD
// (images/Dockerfile, checked by test/chart/bundle.test.ts), devenv/local-stack.ts, the
// tests and the benches. `--workers` children inherit them (cluster forks with execArgv).
//
// A young generation capped at 16 MB semi-spaces (32 MB in all; V8's default lets it grow
// to 64 MB): under a burst of queued requests V8 grows it to its ceiling and keeps every
// page of it resident, which in `sync` mode cost ~10 KiB per held request at 4,000 held.
// Paired runs showed no throughput cost at 16 MB (8 MB cost ~10 % in `direct`); see
// docs/benchmarks.md, "Memory per held request".
export const sidecarNodeFlags: readonly string[] = ["--max-semi-space-size=16"];

// glibc malloc settings in the sidecar image's environment (images/Dockerfile's ENV, checked
// by test/chart/bundle.test.ts): two arenas, not eight per core, so memory freed by a
// connection that another thread's arena held is reused; and a fixed trim threshold (glibc
// otherwise raises it after large frees), so free memory above 128 KiB at the heap's top
// goes back to the kernel. Measured in docs/adr/0009-sidecar-footprint.md. The benches start
// sidecars with them too; VX_SIDECAR_MALLOC=glibc runs without them (bench/lib/procs.ts).
export const sidecarMallocEnv: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_TRIM_THRESHOLD_: "131072",
};
