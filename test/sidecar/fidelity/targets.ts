// What the fidelity suite compares: a third-party app (go-httpbin, built from Go modules)
// reached directly, through HAProxy (the reference proxy), and through a sidecar in each
// mode. Every process is real and started here; `usage` reads a sidecar's open file
// descriptors and resident memory from /proc.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../../devenv/ports.ts";
import { ManagedProcess } from "../../../devenv/process.ts";
import { toolPath } from "../../../devenv/tools.ts";
import { startSidecar, writeVeltrixConfig, type Sidecar } from "../helpers.ts";

export const modes = ["direct", "sync", "async"] as const;
export type Mode = (typeof modes)[number];
export type Target = "app" | "haproxy" | Mode;

export interface Started {
  port: number;
  process: ManagedProcess;
}

/** Sidecar flags the suite runs with: short client timeouts, so a stalled client is answered soon. */
export const clientTimeouts = { headersMs: 2000, requestMs: 4000 } as const;

/** The largest body the sidecars accept: NATS's max_payload in the harness (8 MiB). */
export const maxBodyBytes = 8 * 1024 * 1024;

async function waitListening(proc: ManagedProcess, port: number): Promise<void> {
  await proc.waitUntil("listening", async () => (await fetch(`http://127.0.0.1:${port}/get`)).status < 500);
}

export async function startHttpbin(dir: string): Promise<Started> {
  const port = await freePort();
  const proc = new ManagedProcess({
    name: "go-httpbin",
    command: toolPath("go-httpbin"),
    args: ["-host", "127.0.0.1", "-port", String(port), "-max-body-size", String(maxBodyBytes * 2)],
    logFile: join(dir, "go-httpbin.log"),
  });
  proc.start();
  await waitListening(proc, port);
  return { port, process: proc };
}

/** HAProxy 2.6 (Debian's) in front of the app, with timeouts like the sidecar's. */
export async function startHaproxy(dir: string, appPort: number): Promise<Started> {
  const port = await freePort();
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(
    cfg,
    [
      "global",
      "  nbthread 1",
      "defaults",
      "  mode http",
      // Waits for the whole body within `timeout http-request`, as the sidecar does.
      "  option http-buffer-request",
      "  timeout connect 5s",
      "  timeout client 30s",
      "  timeout server 30s",
      `  timeout http-request ${clientTimeouts.headersMs}ms`,
      "frontend f",
      `  bind 127.0.0.1:${port}`,
      "  default_backend b",
      "backend b",
      `  server app 127.0.0.1:${appPort}`,
      "",
    ].join("\n"),
  );
  const proc = new ManagedProcess({
    name: "haproxy",
    command: "haproxy",
    args: ["-f", cfg, "-db"],
    logFile: join(dir, "haproxy.log"),
  });
  proc.start();
  await waitListening(proc, port);
  return { port, process: proc };
}

/** A sidecar in `mode` in front of the app, with its own VeltrixConfig (and stream). */
export function startModeSidecar(
  dir: string,
  mode: Mode,
  appPort: number,
  natsUrl: string,
): Promise<Sidecar> {
  const configFile = writeVeltrixConfig(
    dir,
    {
      name: `fidelity-${mode}-${randomBytes(3).toString("hex")}`,
      overrides: [{ name: "admin", match: { pathPrefix: "/anything/admin" }, config: { area: "admin" } }],
      queue: { mode, maxConcurrency: 8, maxQueueDepth: 100, requestTimeout: "20s", maxBodyBytes },
    },
    `${mode}.yaml`,
  );
  return startSidecar({
    dir,
    name: `sidecar-${mode}`,
    configFile,
    appPort,
    ...(mode === "direct" ? {} : { natsUrl }),
    extraArgs: [
      "--client-headers-timeout-ms",
      String(clientTimeouts.headersMs),
      "--client-request-timeout-ms",
      String(clientTimeouts.requestMs),
    ],
  });
}

export interface Usage {
  fds: number;
  rssBytes: number;
}

/** Open file descriptors and resident memory of a process, from /proc. */
export function usage(pid: number): Usage {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  return { fds, rssBytes: rssKb * 1024 };
}
