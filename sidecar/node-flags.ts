// The Node/V8 flags the sidecar runs with, wherever it is started: the image's CMD
// (images/Dockerfile, checked by test/chart/bundle.test.ts), devenv/local-stack.ts, the
// tests and the benches. `--workers` children inherit them (cluster forks with execArgv).
//
// A young generation capped at 16 MB semi-spaces (32 MB in all; V8's default lets it grow
// to 64 MB): under a burst of queued requests V8 grows it to its ceiling and keeps every
// page of it resident, which in `sync` mode cost ~10 KiB per held request at 4,000 held.
// Paired runs showed no throughput cost at 16 MB (8 MB cost ~10 % in `direct`); see
// docs/benchmarks.md, "Memory per held request".
import { glibcMallocEnv } from "../lib/malloc-env.ts";

export const sidecarNodeFlags: readonly string[] = ["--max-semi-space-size=16"];

// glibc malloc settings in the sidecar image's environment (lib/malloc-env.ts says why). The
// benches start sidecars with them too; VX_SIDECAR_MALLOC=glibc runs without them
// (bench/lib/procs.ts).
export const sidecarMallocEnv = glibcMallocEnv;
