// Start-up failures a user can fix: the sidecar exits non-zero and says what to change.
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { sidecarNodeFlags } from "../../sidecar/node-flags.ts";
import { tempDir } from "../harness/env.ts";
import { freePort } from "../../devenv/ports.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { writeVeltrixConfig } from "./helpers.ts";

const run = promisify(execFile);
const held: Server[] = [];
afterAll(() => {
  for (const s of held) s.close();
});

async function takePort(): Promise<number> {
  const port = await freePort();
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(port, "127.0.0.1", resolve));
  held.push(s);
  return port;
}

/** Exit code and everything the process wrote (its log is JSON lines on stdout). */
async function startFails(args: string[]): Promise<{ code: unknown; output: string }> {
  const dir = tempDir("sidecar-startup");
  const configFile = writeVeltrixConfig(dir, { name: "startup", queue: { mode: "direct" } });
  const base = [...sidecarNodeFlags, join(repoRoot, "sidecar/main.ts"), "--config", configFile];
  const common = ["--app-port", String(await freePort()), "--data-dir", join(dir, "data")];
  try {
    await run(process.execPath, [...base, ...common, ...args], { timeout: 20_000 });
    return { code: 0, output: "" };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: e.code, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("sidecar start-up errors (real sidecar process)", () => {
  it("an admin port another container took (Istio's Envoy uses 15090) names the setting to change", async () => {
    const taken = await takePort();
    const r = await startFails(["--port", String(await freePort()), "--admin-port", String(taken)]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(
      `cannot listen on 127.0.0.1:${taken} for the admin API: another process in the pod uses it; set --admin-port, VELTRIX_ADMIN_PORT or the pod annotation veltrix.io/admin-port`,
    );
  });

  it("so does a taken proxy port", async () => {
    const taken = await takePort();
    const r = await startFails([
      "--host",
      "127.0.0.1",
      "--port",
      String(taken),
      "--admin-port",
      String(await freePort()),
    ]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(
      `cannot listen on 127.0.0.1:${taken} for the proxy: another process in the pod uses it`,
    );
  });
});
