// Types of the two undici files sidecar/app/undici-pool.ts imports by path (CommonJS
// modules: their default export is module.exports). undici ships types for its index only.
declare module "undici/lib/dispatcher/pool.js" {
  import type { Pool } from "undici";
  const pool: typeof Pool;
  export default pool;
}

declare module "undici/lib/core/errors.js" {
  import type { errors } from "undici";
  const all: typeof errors;
  export default all;
}
