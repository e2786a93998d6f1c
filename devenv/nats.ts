// A real nats-server with JetStream, on a free loopback port, with its own store.
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePorts } from "./ports.ts";
import { ManagedProcess } from "./process.ts";
import { toolPath } from "./tools.ts";

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly process: ManagedProcess;
  /** Graceful stop; the store is kept, so `start()` brings the same streams back. */
  stop(): Promise<void>;
  /** kill -9. */
  kill(): Promise<void>;
  /** Starts again on the same port and store. */
  start(): Promise<void>;
  /** Replaces the extra config (auth, TLS) for the next `start()`. */
  setExtraConfig(extraConfig: string): void;
}

export interface NatsOptions {
  dir: string;
  name?: string;
  port?: number;
  /** Appended to the generated config file (e.g. a `tls { ... }` or `authorization { ... }` block). */
  extraConfig?: string;
  /** Added inside the `jetstream { }` block (e.g. `sync_interval: always`). */
  jetstreamConfig?: string;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

async function healthy(monitorPort: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`);
  return res.ok;
}

export async function startNats(opts: NatsOptions): Promise<NatsServer> {
  const name = opts.name ?? "nats";
  const dir = join(opts.dir, name);
  const storeDir = join(dir, "jetstream");
  mkdirSync(storeDir, { recursive: true });
  const [ephemeral, monitorPort] = await freePorts(2);
  const port = opts.port ?? ephemeral;
  const configFile = join(dir, "nats.conf");
  // Loopback only; JetStream store in the test's own dir.
  const writeConfig = (extraConfig: string): void =>
    writeFileSync(
      configFile,
      [
        `listen: "127.0.0.1:${port}"`,
        `http: "127.0.0.1:${monitorPort}"`,
        `server_name: ${JSON.stringify(name)}`,
        `jetstream { store_dir: ${JSON.stringify(storeDir)}${opts.jetstreamConfig ? `, ${opts.jetstreamConfig}` : ""} }`,
        `max_payload: 8MB`,
        extraConfig,
        "",
      ].join("\n"),
    );
  writeConfig(opts.extraConfig ?? "");
  const proc = new ManagedProcess({
    name: "nats-server",
    command: toolPath("nats-server"),
    args: ["-c", configFile],
    logFile: join(dir, "nats-server.log"),
  });
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: proc,
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    setExtraConfig: writeConfig,
    start: async () => {
      proc.start();
      await proc.waitUntil(
        "accepting JetStream clients",
        async () => (await portOpen(port)) && healthy(monitorPort),
      );
    },
  };
  await server.start();
  return server;
}
