// undici's Pool and error classes without the rest of undici. Its index loads every part
// (fetch, WebSocket, EventSource, the cache stores, the mock agent) and compiles llhttp at
// import: +26 MiB RSS for a process that imports it, against +13 MiB for the pool alone
// (Node 24, docs/benchmarks.md "The sidecar's footprint"). The sidecar only dispatches on a
// Pool, which the index does not change (it adds request/stream/pipeline to the prototype).
// Static imports of the two files (typed in undici-files.d.ts), so the image's bundler
// (scripts/bundle-entries.ts) puts them and only what they require into the sidecar's file.
import type { Pool as UndiciPool } from "undici";
import PoolClass from "undici/lib/dispatcher/pool.js";
import errors from "undici/lib/core/errors.js";

export const Pool = PoolClass;
export type Pool = UndiciPool;
export const undiciErrors = errors;
