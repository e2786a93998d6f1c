// The README's main command where a node can run: devenv/local-node.ts (what
// scripts/local-up.sh runs after set-up on such a machine) brings up the node, installs the
// chart with helm and the demo app, and prints curl lines. Each printed line is run as a
// person would (the loopback forward with fetch, the one inside the node's network with
// `ip netns exec` and curl) and must reach the app through the sidecar with the operator's
// revision; Ctrl-C (SIGINT) then stops everything. Full form only (a second node).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { eventually } from "../../devenv/eventually.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { nodeFailedMarker } from "./setup.ts";

const run = promisify(execFile);

describe("scripts/local-up.sh on a machine that can run a node (devenv/local-node.ts)", () => {
  const runDir = inject("runDir");
  let child: ChildProcess | undefined;
  let output = "";

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") writeFileSync(join(runDir, nodeFailedMarker), ctx.task.name);
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGINT");
      await eventually(
        "local-node.ts to stop",
        () => (child?.exitCode === null ? undefined : true),
        120_000,
        250,
      );
    }
  }, 150_000);

  it("prints curl lines that reach the demo app through the sidecar in its pod, and stops on Ctrl-C", async () => {
    const dir = join(runDir, "local-up");
    child = spawn(process.execPath, [join(repoRoot, "devenv/local-node.ts"), "--dir", dir], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (output += b.toString()));
    const came = await eventually(
      "local-node.ts to print 'Press Ctrl-C to stop.' (or exit)",
      () =>
        child?.exitCode !== null ? "exited" : output.includes("Press Ctrl-C to stop.") ? "up" : undefined,
      600_000,
      500,
    );
    if (came === "exited") throw new Error(`local-node.ts exited ${child.exitCode}:\n${output}`);
    console.log(`local-up: ${output}`);
    const revision = /VeltrixConfig +demo\/demo .* Ready, revision ([0-9a-f]+)/.exec(output)?.[1];
    expect(revision, output).toMatch(/^[0-9a-f]{8,}$/);
    expect(output).toMatch(/demo pod +demo-[a-z0-9-]+: app \+ native sidecar veltrix-sidecar/);
    expect(output).toMatch(/^ {2}export KUBECONFIG=\/.+$/m);

    // The loopback line, as printed.
    const loopback = /^ {2}curl (http:\/\/127\.0\.0\.1:\d+\/hello)$/m.exec(output)?.[1];
    expect(loopback, output).toBeDefined();
    const res = await fetch(loopback ?? "");
    const body = (await res.json()) as { configRevision: string | null; requestId: string | null };
    expect(res.status).toBe(200);
    expect(body.configRevision).toBe(revision);
    expect(body.requestId).toMatch(/.+/);

    // The line from inside the node's network, as printed (we are root: no sudo needed).
    const inside = /^ {2}sudo (ip netns exec \S+ curl http:\/\/[\d.]+\/hello)/m.exec(output)?.[1];
    expect(inside, output).toBeDefined();
    // ip netns exec NS curl URL
    const [, , , netns = "", , url = ""] = (inside ?? "").split(" ");
    const curl = await run("ip", ["netns", "exec", netns, "curl", "-s", url]);
    const inner = JSON.parse(curl.stdout) as { configRevision: string | null };
    expect(inner.configRevision).toBe(revision);

    child.kill("SIGINT");
    const code = await eventually(
      "local-node.ts to stop on SIGINT",
      () => child?.exitCode ?? undefined,
      120_000,
      250,
    );
    expect(code).toBe(0);
    // Stopped: the namespace it printed is gone.
    const { stdout: namespaces } = await run("ip", ["netns", "list"]);
    expect(netns).toMatch(/^veltrix-/);
    expect(namespaces).not.toContain(netns);
  }, 720_000);
});
