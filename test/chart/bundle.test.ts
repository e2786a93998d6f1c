// The runtime tree the images copy (scripts/build-bundle.sh, run by images/Dockerfile's build
// stage): built here without a container engine, checked for production-only contents, and
// both programs started from it serve /healthz. The tree is built outside the repository so
// Node cannot fall back to the repository's node_modules.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { tempDir } from "../harness/env.ts";
import { freePort } from "../../devenv/ports.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { operatorMallocEnv, operatorNodeFlags } from "../../operator/node-flags.ts";
import { sidecarMallocEnv, sidecarNodeFlags } from "../../sidecar/node-flags.ts";

const run = promisify(execFile);

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

async function healthz(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return res.ok;
}

describe("runtime bundle (the images' tree, built without a container engine)", () => {
  const bundle = join(mkdtempSync(join(tmpdir(), "veltrix-bundle-")), "app");
  const processes: ManagedProcess[] = [];
  // Only Node 24 (this test's node) on PATH besides the system: nothing from the repo.
  const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmpdir() };

  beforeAll(async () => {
    const { stdout } = await run("bash", [join(repoRoot, "scripts/build-bundle.sh"), bundle], {
      cwd: repoRoot,
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}` },
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toMatch(/build-bundle: \S+ in /);
  }, 300_000);

  afterAll(async () => {
    for (const p of processes) await p.stop();
    rmSync(dirname(bundle), { recursive: true, force: true });
  });

  it("holds compiled JavaScript and production dependencies only", () => {
    const pkg = JSON.parse(readFileSync(join(bundle, "package.json"), "utf8")) as Record<string, unknown>;
    const rootPkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(pkg["type"]).toBe("module");
    expect(pkg["devDependencies"]).toBeUndefined();
    expect(pkg["dependencies"]).toEqual(rootPkg["dependencies"]);
    // What `npm ci --omit=dev` leaves out: every lockfile entry marked dev (a devDependency that a
    // production package also needs, like @types/node, is not marked dev and stays).
    const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages).filter(([p, e]) => p.startsWith("node_modules/") && e.dev);
    expect(devOnly.length).toBeGreaterThan(50);
    for (const [path] of devOnly)
      expect(existsSync(join(bundle, path)), `dev-only ${path} in the bundle`).toBe(false);
    for (const tool of ["vitest", "eslint", "typescript", "prettier"]) {
      expect(existsSync(join(bundle, "node_modules", tool)), tool).toBe(false);
    }
    for (const dep of Object.keys(rootPkg["dependencies"] as Record<string, string>)) {
      expect(existsSync(join(bundle, "node_modules", dep, "package.json")), `dependency ${dep} missing`).toBe(
        true,
      );
    }
    const code = ["api", "lib", "operator", "sidecar", "cli"].flatMap((dir) => [...walk(join(bundle, dir))]);
    expect(code.filter((f) => f.endsWith(".ts"))).toEqual([]);
    expect(code.some((f) => f.endsWith(".test.js"))).toBe(false);
    // The programs the images run are one bundled file each (scripts/bundle-entries.ts); the
    // record writer thread loads its own, beside the sidecar's.
    const programs = (dir: string): string[] =>
      readdirSync(join(bundle, dir))
        .filter((f) => !f.endsWith(".js.map"))
        .sort();
    expect(programs("sidecar")).toEqual(["main.js", "record-writer.js"]);
    expect(programs("operator")).toEqual(["main.js"]);
    // No ESM import of a built-in module (it would evaluate all of its exports): the bundler
    // takes them from process.getBuiltinModule.
    for (const file of ["sidecar/main.js", "sidecar/record-writer.js", "operator/main.js"]) {
      const text = readFileSync(join(bundle, file), "utf8");
      expect(text.match(/(?:^|[;}])\s*import\s*[\w{*][^;]*?from\s*"[^"]+"/gm), file).toBeNull();
      expect(text, file).toContain('process.getBuiltinModule("node:');
    }
  });

  it("carries the veltrix command: --help, validate against the shipped CRD, and npm's bin link", async () => {
    const cli = join(bundle, "cli/main.js");
    const help = await run(process.execPath, [cli, "--help"], { cwd: tmpdir(), env });
    expect(help.stdout).toMatch(/^usage: veltrix <command>/);
    expect(help.stdout).toContain("status [NAME]");
    const sample = join(repoRoot, "crds/samples/minimal.yaml");
    const valid = await run(process.execPath, [cli, "validate", sample], { cwd: tmpdir(), env });
    expect(valid.stdout).toContain(": valid");
    // Installed with npm: the package's bin, linked into a prefix's bin/ (argv[1] is the link).
    const prefix = tempDir("bundle-npm-prefix");
    // The first npm on PATH that exists (Node's own bin/npm may be missing), run by the Node
    // first on env's PATH.
    const npm = (process.env["PATH"] ?? "")
      .split(":")
      .map((d) => join(d, "npm"))
      .find((f) => existsSync(f));
    expect(npm, "npm on PATH").toBeDefined();
    await run(
      npm!,
      ["install", "--global", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", bundle],
      {
        env: { ...env, npm_config_cache: join(prefix, ".npm") },
      },
    );
    const installed = await run(join(prefix, "bin/veltrix"), ["validate", sample], { cwd: tmpdir(), env });
    expect(installed.stdout).toContain(": valid");
    const up = await run(process.execPath, [cli, "up"], { cwd: tmpdir(), env }).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(up).toMatchObject({ code: 2, stderr: expect.stringContaining("runs from a checkout") as unknown });
  });

  it("needs no native addon (the sidecar below writes its SQLite files with node:sqlite)", () => {
    expect([...walk(join(bundle, "node_modules"))].filter((f) => f.endsWith(".node"))).toEqual([]);
  });

  it("matches what images/Dockerfile copies and runs", () => {
    const dockerfile = readFileSync(join(repoRoot, "images/Dockerfile"), "utf8");
    expect(dockerfile).toContain("RUN bash scripts/build-bundle.sh /bundle");
    expect(dockerfile).toContain("COPY --from=build /bundle /app");
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    const cmds = new Map(
      [...dockerfile.matchAll(/FROM runtime AS (\w+)[\s\S]*?CMD (\[.*\])/g)].map(([, target, cmd]) => [
        target!,
        JSON.parse(cmd!) as string[],
      ]),
    );
    expect([...cmds.keys()].sort()).toEqual(["operator", "sidecar"]);
    for (const [target, cmd] of cmds) {
      const script = cmd.at(-1)!;
      expect(existsSync(join(bundle, script)), `${target}: CMD ${script} not in the bundle`).toBe(true);
    }
    // The image runs the sidecar with the flags it is tested and benchmarked with, and its
    // malloc settings in the environment.
    expect(cmds.get("sidecar")).toEqual([...sidecarNodeFlags, "sidecar/main.js"]);
    const sidecarStage = /FROM runtime AS sidecar\n([\s\S]*?)(?=\nFROM |$)/.exec(dockerfile)?.[1] ?? "";
    const sidecarEnv = Object.fromEntries(
      [...sidecarStage.matchAll(/^ENV (\w+)=(\S+)$/gm)].map(([, k, v]) => [k!, v!]),
    );
    expect(sidecarEnv).toEqual(sidecarMallocEnv);
    // The operator's likewise (the chart's args repeat its flags: operator-rbac.test.ts).
    expect(cmds.get("operator")).toEqual([...operatorNodeFlags, "operator/main.js"]);
    const operatorStage = /FROM runtime AS operator\n([\s\S]*?)(?=\nFROM |$)/.exec(dockerfile)?.[1] ?? "";
    const operatorEnv = Object.fromEntries(
      [...operatorStage.matchAll(/^ENV (\w+)=(\S+)$/gm)].map(([, k, v]) => [k!, v!]),
    );
    expect(operatorEnv).toEqual(operatorMallocEnv);
    for (const [, sources] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of sources!.split(" "))
        expect(existsSync(join(repoRoot, src)), `COPY ${src}`).toBe(true);
    }
  });

  it("starts the sidecar from the tree and it serves /healthz", async () => {
    const [appPort, port, adminPort] = [await freePort(), await freePort(), await freePort()];
    const dir = tempDir("bundle-sidecar");
    // The minimal sample in direct mode: no NATS here, and a direct request is recorded.
    const configFile = join(dir, "direct.yaml");
    writeFileSync(
      configFile,
      `${readFileSync(join(repoRoot, "crds/samples/minimal.yaml"), "utf8")}  queue:\n    mode: direct\n`,
    );
    const sidecar = new ManagedProcess({
      name: "bundle-sidecar",
      command: process.execPath,
      args: [
        ...sidecarNodeFlags,
        join(bundle, "sidecar/main.js"),
        "--config",
        configFile,
        "--app-port",
        String(appPort),
        "--port",
        String(port),
        "--admin-port",
        String(adminPort),
        "--data-dir",
        join(dir, "data"),
      ],
      logFile: join(dir, "sidecar.log"),
      cwd: dirname(bundle),
      env,
    });
    processes.push(sidecar);
    sidecar.start();
    await sidecar.waitUntil("serving /healthz", () => healthz(adminPort), 30_000);
    expect(existsSync(join(dir, "data"))).toBe(true);
    // The kubelet's probe path on the proxy port, and a request recorded through the
    // store's writer thread (its own file in the tree): no app listens, so the request
    // fails, and its record says so.
    expect((await fetch(`http://127.0.0.1:${port}/_veltrix/healthz`)).status).toBe(200);
    const res = await fetch(`http://127.0.0.1:${port}/x`);
    expect(res.status).toBe(502);
    const id = res.headers.get("x-veltrix-request-id");
    const rec = (await (await fetch(`http://127.0.0.1:${adminPort}/v1/requests/${id}`)).json()) as {
      record?: { state: string };
    };
    expect(rec.record?.state).toBe("failed");
    // The config it booted with, kept by the keyv store on node:sqlite.
    const snapshots = new DatabaseSync(join(dir, "data", "config.db"), { readOnly: true });
    const latest = snapshots.prepare("SELECT value FROM keyv WHERE key = ?").get("veltrix-config:latest");
    snapshots.close();
    expect(String(latest?.["value"])).toContain('"revision"');
  });

  it("starts the operator from the tree and it serves /healthz", async () => {
    const httpPort = await freePort();
    const dir = tempDir("bundle-operator");
    const operator = new ManagedProcess({
      name: "bundle-operator",
      command: process.execPath,
      args: [
        join(bundle, "operator/main.js"),
        "--kubeconfig",
        inject("kubeconfigPath"),
        "--nats-url",
        inject("natsUrl"),
        "--http-port",
        String(httpPort),
        "--http-host",
        "127.0.0.1",
        "--leader-elect",
        "false",
        // A namespace with no VeltrixConfigs: this process must not reconcile other tests' configs.
        "--watch-namespace",
        `bundle-${httpPort}`,
      ],
      logFile: join(dir, "operator.log"),
      cwd: dirname(bundle),
      // No webhook here: it would create its certificate Secret in the shared API server.
      env: { ...env, VELTRIX_WEBHOOK_CERT_MODE: "disabled" },
    });
    processes.push(operator);
    operator.start();
    await operator.waitUntil("serving /healthz", () => healthz(httpPort), 60_000);
    // Up and running from the tree: healthy, its own metrics served, and no crash since.
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^veltrix_operator_\w+/m);
    expect(operator.running).toBe(true);
    expect(operator.tail(1_000)).toContain('"msg":"starting"');
  });
});
