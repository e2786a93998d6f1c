// undici's Pool and error classes without the rest of undici. Its index loads every part
// (fetch, WebSocket, EventSource, the cache stores, the mock agent) and compiles llhttp at
// import: +26 MiB RSS for a process that imports it, against +13 MiB for the pool alone
// (Node 24, docs/benchmarks.md "The sidecar's footprint"). The sidecar only dispatches on a
// Pool, which the index does not change (it adds request/stream/pipeline to the prototype).
import { createRequire } from "node:module";
import type { Pool as UndiciPool, errors as UndiciErrors } from "undici";

const require = createRequire(import.meta.url);

export const Pool = require("undici/lib/dispatcher/pool.js") as typeof UndiciPool;
export type Pool = UndiciPool;
export const undiciErrors = require("undici/lib/core/errors.js") as typeof UndiciErrors;
