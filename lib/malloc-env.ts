// glibc malloc settings for the images' Node processes (images/Dockerfile's ENV, checked by
// test/chart/bundle.test.ts): two arenas, not eight per core, so memory freed by a
// connection that another thread's arena held is reused; and a fixed trim threshold (glibc
// otherwise raises it after large frees), so free memory above 128 KiB at the heap's top
// goes back to the kernel. Measured in docs/adr/0009-sidecar-footprint.md (the sidecar) and
// docs/adr/0010-operator-footprint.md (the operator).
export const glibcMallocEnv: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_TRIM_THRESHOLD_: "131072",
};
