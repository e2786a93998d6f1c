#!/usr/bin/env node
// The `veltrix` command of the package (package.json "bin"). In a checkout it runs the
// TypeScript source (Node 24 strips types); installed under node_modules, where Node does
// not strip types, it runs the compiled dist/cli/main.js (`npm run build` makes it). The
// runtime bundle (scripts/build-bundle.sh) points its own "bin" at cli/main.js directly.
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = realpathSync(fileURLToPath(import.meta.url));
const source = new URL("../cli/main.ts", import.meta.url);
const compiled = new URL("../dist/cli/main.js", import.meta.url);
const installed = here.split("/").includes("node_modules");
const entry = installed || !existsSync(source) ? compiled : source;
if (!existsSync(entry)) {
  console.error(`veltrix: ${fileURLToPath(entry)} is missing; run npm run build in the package`);
  process.exit(2);
}
const { main } = await import(entry.href);
main();
