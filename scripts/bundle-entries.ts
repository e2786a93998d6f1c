// Bundles the programs the images run into one minified file each (scripts/build-bundle.sh
// runs it after tsc, over the compiled tree's entry files):
//   sidecar/main.js           the sidecar, with every module it imports (undici's pool, the
//                             NATS clients, prom-client, keyv) but `yaml`, which it requires
//                             from node_modules only for a YAML config (sidecar/config/settings.ts)
//   sidecar/record-writer.js  the record store's writer thread (sidecar/state/record-writer.ts):
//                             a worker loads its own file, and the bundled store looks for it
//                             beside the file it runs from (sidecar/state/sqlite-store.ts)
//   operator/main.js          the operator
// each with its source map (*.js.map).
// One file instead of hundreds of modules: Node keeps one module record and one source
// text, minified, instead of one of each per file with its comments, and reads one file at
// start (docs/adr/0009-sidecar-footprint.md has the numbers).
//
// Node's built-in modules stay Node's, but an ESM `import { x } from "node:fs"` is taken as
// `process.getBuiltinModule("node:fs").x`: an ESM import of a built-in evaluates every one of
// its exports, and lazy getters behind them load code the programs never call
// (`fs.promises`, util's and node:http's classes: ~4 MiB RSS over the built-ins the sidecar
// imports). CommonJS `require` of a built-in already returns the module as it is.
// Usage: node scripts/bundle-entries.ts <bundle dir>
import { build, type BuildOptions, type Plugin } from "esbuild";
import { builtinModules, createRequire } from "node:module";
import { join } from "node:path";

const out = process.argv[2];
if (!out) {
  console.error("usage: node scripts/bundle-entries.ts <bundle dir>");
  process.exit(2);
}
const root = join(import.meta.dirname, "..");
const require = createRequire(import.meta.url);

/** Names a built-in may export that cannot be a `const`'s. */
const reserved = new Set(["default", "delete", "new", "function", "class", "import", "export", "in"]);
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** An ESM import of a built-in as the values it names, read from process.getBuiltinModule. */
const builtinsByValue: Plugin = {
  name: "builtins-by-value",
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/0-9]+$/ }, (args) => {
      if (!builtins.has(args.path)) return undefined;
      const name = args.path.startsWith("node:") ? args.path : `node:${args.path}`;
      if (args.kind !== "import-statement") return { path: name, external: true };
      return { path: name, namespace: "builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
      const names = Object.keys(require(args.path) as object).filter(
        (k) => /^[A-Za-z_$][\w$]*$/.test(k) && !reserved.has(k),
      );
      // Each name is its own pure statement, so the bundle keeps only the names it uses.
      const contents = [
        `const m = process.getBuiltinModule(${JSON.stringify(args.path)});`,
        "const pick = (k) => m[k];",
        "export default m;",
        ...names.map((k) => `export const ${k} = /* @__PURE__ */ pick(${JSON.stringify(k)});`),
      ].join("\n");
      return { contents, loader: "js" };
    });
  },
};

const common: BuildOptions = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  minify: true,
  legalComments: "none",
  // Linked source maps without the sources: `node --enable-source-maps` (NODE_OPTIONS) turns
  // a minified stack trace into files and lines; Node reads a map only with that flag.
  sourcemap: "linked",
  sourcesContent: false,
  logLevel: "warning",
  absWorkingDir: root,
  plugins: [builtinsByValue],
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: { js: 'const require=process.getBuiltinModule("node:module").createRequire(import.meta.url);' },
};

const entries: [string, string][] = [
  ["sidecar/main.ts", "sidecar/main.js"],
  ["sidecar/state/record-writer.ts", "sidecar/record-writer.js"],
  ["operator/main.ts", "operator/main.js"],
];
for (const [from, to] of entries) {
  await build({ ...common, entryPoints: [join(root, from)], outfile: join(out, to) });
}
console.log(`bundle-entries: ${entries.map(([, to]) => to).join(", ")}`);
