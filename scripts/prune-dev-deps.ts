// Removes devDependencies from a copied node_modules, using package-lock.json's own "dev"
// flags (what `npm ci --omit=dev` would leave out), then drops .bin links left dangling.
// `npm prune --omit=dev` reports "up to date" on a copied tree (npm 11), hence this.
// Usage: node scripts/prune-dev-deps.ts <dir with package-lock.json and node_modules>
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

interface LockEntry {
  dev?: boolean;
}

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node scripts/prune-dev-deps.ts <dir>");
  process.exit(2);
}
const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as {
  packages: Record<string, LockEntry>;
};

let removed = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  if (!path.startsWith("node_modules/") || entry.dev !== true) continue;
  const target = join(dir, path);
  if (existsSync(target)) {
    rmSync(target, { recursive: true, force: true });
    removed++;
  }
}

// Empty scope folders and dangling bin links.
const modules = join(dir, "node_modules");
for (const name of readdirSync(modules)) {
  const p = join(modules, name);
  if (name.startsWith("@") && readdirSync(p).length === 0) rmSync(p, { recursive: true });
}
const bin = join(modules, ".bin");
if (existsSync(bin)) {
  for (const link of readdirSync(bin)) {
    try {
      statSync(join(bin, link));
    } catch {
      rmSync(join(bin, link), { force: true });
    }
  }
}
rmSync(join(modules, ".package-lock.json"), { force: true });
console.log(`prune-dev-deps: removed ${removed} dev-only packages`);
