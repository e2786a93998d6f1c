// The sidecar's footprint per pod (issue 17), beside a bare-Node floor measured in the same
// run: idle RSS, RSS at the peak of a burst of held requests and some time after it ended,
// start to ready (spawn to /readyz 200), the first request after ready, the image's
// compressed size against the runtime base's, and the operator's RSS with N VeltrixConfigs
// in its cache (idle after the reconcile, and peak during it).
//   scripts/with-node24 node bench/sidecar-footprint.ts [--quick] [--runs N]
// The sidecar runs as its image runs it: the bundle's tree (scripts/build-bundle.sh) and the
// image's command (devenv/node/images.ts, the Dockerfile's CMD), `sync` mode, connected to a
// real nats-server. The floor is bench/lib/plain-app.ts (a bare node:http server) as plain
// JavaScript, on the same Node binary with Node's default flags.
// --quick (CI: test/bench/sidecar-footprint-short.test.ts): 2 runs, a burst of 500 held, 3 s
// after it; no image build and no operator (the operator's short form is
// test/bench/operator-short.test.ts); writes bench/results/sidecar-footprint-quick.json.
// VX_FOOTPRINT_HELD, VX_FOOTPRINT_AFTER_MS, VX_FOOTPRINT_CONFIGS override the full form's
// 5,000 held, 30 s and 1,000 VeltrixConfigs; VX_FOOTPRINT_SKIP=image,operator skips parts;
// VX_FOOTPRINT_BUNDLE=DIR measures a bundle built earlier (before/after comparisons);
// VX_FOOTPRINT_NODE_ARGS="--flag ..." and VX_FOOTPRINT_ENV="K=V ..." are added to the sidecar's
// command and environment (trying a flag or an allocator setting before the image takes it);
// VX_SIDECAR_MALLOC=glibc runs the sidecar without the image's malloc settings (the floor
// never has them: it runs with glibc's defaults).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { configDocument } from "../api/resolve.ts";
import { imageSpecs } from "../devenv/node/images.ts";
import {
  measureFootprint,
  get,
  type BurstPlan,
  type FootprintRun,
  type FootprintTarget,
} from "./lib/footprint.ts";
import { sidecarImageSize, type ImageSize } from "./lib/image-size.ts";
import { port, repo, sidecarMalloc, start, startNatsServer, withoutMalloc } from "./lib/procs.ts";
import { median, printTable, short, writeResults, type Row } from "./lib/report.ts";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const env = (name: string, full: number, quick: number): number =>
  short ? quick : Number(process.env[name] ?? full);
const runs = Number(arg("runs") ?? (short ? 2 : 5));
const plan: BurstPlan = {
  held: env("VX_FOOTPRINT_HELD", 5_000, 500),
  afterMs: env("VX_FOOTPRINT_AFTER_MS", 30_000, 3_000),
  idleMs: short ? 1_000 : 5_000,
};
const skip = new Set((process.env["VX_FOOTPRINT_SKIP"] ?? (short ? "image,operator" : "")).split(","));
const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), "vx-footprint-"));
// The measured processes get the image's environment, not this shell's (scripts/with-node24
// sets NODE_EXTRA_CA_CERTS, which alone costs a Node process several MiB at start).
const imageEnv = (spec: { env: Record<string, string> }): NodeJS.ProcessEnv => ({
  PATH: process.env["PATH"],
  ...withoutMalloc(spec.env),
});
const words = (name: string): string[] => (process.env[name] ?? "").split(" ").filter(Boolean);
const tryArgs = words("VX_FOOTPRINT_NODE_ARGS");
const tryEnv: Record<string, string> = {};
for (const kv of words("VX_FOOTPRINT_ENV"))
  tryEnv[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
const loads: string[] = [`start ${load()}`];

/** A TypeScript file as plain JavaScript in `dir`, so the process measured does not load the type stripper. */
function asJavaScript(file: string): string {
  const out = join(dir, file.split("/").pop()?.replace(/\.ts$/, ".mjs") ?? "out.mjs");
  writeFileSync(out, stripTypeScriptTypes(readFileSync(join(repo, file), "utf8")));
  return out;
}

const given = process.env["VX_FOOTPRINT_BUNDLE"];
const bundle = given ?? join(dir, "bundle");
if (!given) {
  execFileSync("bash", [join(repo, "scripts/build-bundle.sh"), bundle], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}
const plainApp = asJavaScript("bench/lib/plain-app.ts");
const probe = asJavaScript("bench/lib/memory-probe.ts");
const nats = await startNatsServer(dir);

// The config as a pod reads it: the operator's ConfigMap document (JSON).
const config = join(dir, "config.json");
writeFileSync(
  config,
  JSON.stringify(
    configDocument(
      { namespace: "bench", name: "footprint" },
      {
        config: { greeting: "hello" },
        queue: {
          mode: "sync",
          maxConcurrency: 64,
          maxQueueDepth: plan.held * 2,
          maxWait: "300s",
          requestTimeout: "300s",
        },
      },
    ),
  ),
);

/** The floor: a bare node:http server that holds `/hold` until `/release`. */
async function floorTarget(): Promise<FootprintTarget> {
  const p = await port();
  return {
    command: node,
    args: [plainApp, String(p)],
    env: imageEnv(imageSpecs.sidecar),
    ready: { port: p, path: "/readyz" },
    port: p,
    release: async () => void (await get(p, "/release")),
  };
}

/** The sidecar with the image's command and working directory, in front of a fresh app. */
async function sidecarTarget(
  extraNodeArgs: string[] = [],
  ensureStream = false,
): Promise<{
  target: FootprintTarget;
  stopApp: () => Promise<void>;
}> {
  const appPort = await port();
  const app = await start(node, [plainApp, String(appPort)], appPort);
  const [p, admin] = [await port(), await port()];
  const cmd: readonly string[] = imageSpecs.sidecar.cmd;
  const dataDir = join(dir, `data-${p}`);
  mkdirSync(dataDir);
  return {
    target: {
      command: node,
      args: [
        ...extraNodeArgs,
        // After the image's flags, before its script: a tried flag wins over the image's.
        ...cmd.slice(0, -1),
        ...tryArgs,
        ...cmd.slice(-1),
        ...["--config", config, "--app-port", String(appPort), "--port", String(p), "--host", "127.0.0.1"],
        ...["--admin-port", String(admin), "--data-dir", dataDir, "--nats-url", nats.url],
        ...(ensureStream ? ["--ensure-stream"] : []),
      ],
      cwd: bundle,
      env: {
        ...imageEnv(imageSpecs.sidecar),
        ...sidecarMalloc(),
        ...tryEnv,
        VX_MEMORY_PROBE_FILE: join(dir, "probe.json"),
      },
      ready: { port: admin, path: "/readyz" },
      port: p,
      release: async () => void (await get(appPort, "/release")),
    },
    stopApp: () => app.stop(),
  };
}

// The stream exists before the measured starts, as the operator makes it before any pod.
{
  const { target, stopApp } = await sidecarTarget([], true);
  await measureFootprint(target, { held: 1, afterMs: 0, idleMs: 0 });
  await stopApp();
}

const results: Record<"floor" | "sidecar", FootprintRun[]> = { floor: [], sidecar: [] };
for (let i = 0; i < runs; i++) {
  results.floor.push(await measureFootprint(await floorTarget(), plan));
  const { target, stopApp } = await sidecarTarget();
  results.sidecar.push(await measureFootprint(target, plan));
  await stopApp();
  loads.push(`run ${i + 1} ${load()}`);
}

// Where the sidecar's memory is, in one more run with the probe preloaded (not in the medians).
interface Probe {
  memoryUsage: NodeJS.MemoryUsage;
  heap: { total_physical_size: number; malloced_memory: number; external_memory: number };
  spaces: { space_name: string; physical_space_size: number; space_used_size: number }[];
  workers: { total_physical_size: number; used_heap_size: number }[];
  liveAfterGc: number;
}
const breakdown: Record<string, Row> = {};
{
  const { target, stopApp } = await sidecarTarget(["--import", probe]);
  await measureFootprint(target, plan, async (pid, phase) => {
    const file = join(dir, "probe.json");
    rmSync(file, { force: true });
    process.kill(pid, "SIGUSR2");
    for (let i = 0; i < 100; i++) {
      try {
        const p = JSON.parse(readFileSync(file, "utf8")) as Probe;
        const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
        breakdown[phase] = memoryBreakdown(p, rollup, pid);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  await stopApp();
}

function memoryBreakdown(p: Probe, rollup: string, pid: number): Row {
  const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
  const kib = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? NaN);
  const space = (name: string): number =>
    p.spaces.find((s) => s.space_name === name)?.physical_space_size ?? 0;
  const workers = p.workers.reduce((a, w) => a + w.total_physical_size, 0);
  const anon = kib("Anonymous") * 1024;
  const threads = execFileSync("ls", [`/proc/${pid}/task`])
    .toString()
    .trim()
    .split("\n").length;
  return {
    "RSS MiB": mib(kib("Rss") * 1024),
    "file-backed MiB (Node binary, libraries)": mib(kib("Rss") * 1024 - anon),
    "anonymous MiB": mib(anon),
    "V8 heap, main thread MiB": mib(p.heap.total_physical_size),
    "of it new space MiB": mib(space("new_space")),
    "of it old space MiB": mib(space("old_space")),
    "of it code MiB": mib(space("code_space") + space("code_large_object_space")),
    "of it trusted MiB": mib(space("trusted_space") + space("trusted_large_object_space")),
    "of it large objects MiB": mib(space("large_object_space")),
    "heap used MiB": mib(p.memoryUsage.heapUsed),
    "heap used after a full GC MiB (live)": mib(p.liveAfterGc),
    "worker isolates": p.workers.length,
    "worker isolates MiB": mib(workers),
    "anonymous outside V8 heaps MiB (malloc: SQLite, buffers, stacks, Node)": mib(
      anon - p.heap.total_physical_size - workers,
    ),
    "external MiB (buffers, SQLite handles V8 knows of)": mib(p.memoryUsage.external),
    threads,
  };
}

let image: ImageSize | undefined;
if (!skip.has("image")) {
  image = await sidecarImageSize(bundle, dir);
  loads.push(`image ${load()}`);
}

let operator: Awaited<ReturnType<typeof operatorFootprint>> | undefined;
if (!skip.has("operator")) {
  operator = await operatorFootprint(Number(process.env["VX_FOOTPRINT_CONFIGS"] ?? 1_000));
  loads.push(`operator ${load()}`);
}

async function operatorFootprint(count: number) {
  const { runOperatorScale } = await import("./operator-scale.ts");
  const { startControlPlane } = await import("../devenv/control-plane.ts");
  const { CoreV1Api } = await import("@kubernetes/client-node");
  const plane = await startControlPlane({ dir: join(dir, "plane"), controllerManager: false });
  try {
    await plane
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: "bench" } } });
    return await runOperatorScale({
      kubeconfigPath: plane.kubeconfigPath,
      natsUrl: nats.url,
      count,
      dir,
      namespace: "bench",
      // As the image runs it: its command's flags, then its program.
      entry: join(bundle, imageSpecs.operator.cmd.at(-1) ?? ""),
      nodeArgs: imageSpecs.operator.cmd.slice(0, -1),
      env: imageEnv(imageSpecs.operator),
      settleMs: 30_000,
    });
  } finally {
    await plane.stop();
  }
}

await nats.proc.stop();

// Medians and spread (min–max) over the runs; ratios against the floor of the same run.
const mib = (kib: number): number => kib / 1024;
type Pick = (r: FootprintRun) => number;
const figures: [string, Pick][] = [
  ["idle RSS MiB", (r) => mib(r.idle.rss)],
  ["idle anonymous MiB", (r) => mib(r.idle.anon)],
  ["idle file-backed MiB", (r) => mib(r.idle.file)],
  ["burst peak RSS MiB", (r) => mib(r.peak.rss)],
  [`RSS ${plan.afterMs / 1000} s after the burst MiB`, (r) => mib(r.after.rss)],
  ["after / idle", (r) => r.after.rss / r.idle.rss],
  ["start to ready ms", (r) => r.startToReadyMs],
  ["first request ms", (r) => r.firstRequestMs],
];
const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
const rows: Row[] = figures.map(([name, pick]) => {
  const f = results.floor.map(pick);
  const s = results.sidecar.map(pick);
  const ratios = s.map((v, i) => v / (f[i] ?? NaN));
  return {
    figure: name,
    "floor median": median(f),
    "floor spread": spread(f),
    "sidecar median": median(s),
    "sidecar spread": spread(s),
    "× floor (median of runs)": median(ratios),
  };
});
const answered = results.sidecar.map((r) => r.answered);
console.log(
  `${bundle}${tryArgs.length ? ` ${tryArgs.join(" ")}` : ""}${Object.entries(sidecarMalloc())
    .map(([k, v]) => ` ${k}=${v}`)
    .join("")}${words("VX_FOOTPRINT_ENV")
    .map((w) => ` ${w}`)
    .join(
      "",
    )}: ${runs} runs, ${plan.held} held per burst${short ? " (quick form: short)" : ""}; node ${process.version}; load average ${loads.join(", ")}`,
);
printTable(rows);
console.log(`held requests answered after release, sidecar: ${answered.join(" ")}`);
for (const [phase, row] of Object.entries(breakdown)) {
  console.log(`\nsidecar memory, ${phase}:`);
  printTable(Object.entries(row).map(([k, v]) => ({ part: k, value: v })));
}
if (image) {
  const m = (b: number): string => (b / 1048576).toFixed(1);
  console.log(
    `\nimage (compressed layers): sidecar ${m(image.imageBytes)} MiB, runtime base ${m(image.baseBytes)} MiB, bundle layer ${m(image.bundleBytes)} MiB, ${(image.imageBytes / image.baseBytes).toFixed(2)} × base`,
  );
}
if (operator) {
  console.log(
    `\noperator, ${operator.count} VeltrixConfigs: RSS before ${operator.rssIdleMiB} MiB, peak ${operator.rssPeakMiB} MiB, at all Ready ${operator.rssEndMiB} MiB, 30 s later ${operator.rssSettledMiB} MiB; floor idle ${median(results.floor.map((r) => mib(r.idle.rss))).toFixed(1)} MiB`,
  );
}
const file = writeResults(short ? "sidecar-footprint-quick" : "sidecar-footprint", {
  runs,
  plan,
  malloc: sidecarMalloc(),
  loadAverage: loads,
  rows,
  raw: results,
  breakdown,
  image,
  operator,
});
console.log(`results: ${file}`);
rmSync(dir, { recursive: true, force: true });
