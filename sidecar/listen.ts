// Starts a server listening and resolves with the port it got (0 = any free port). A
// port already taken in the pod (another sidecar, e.g. Istio's Envoy serves its metrics
// on 15090, our admin default) fails with what to change, not a bare EADDRINUSE.
import type { Server } from "node:http";

/** What the listener is for, and how a user moves it, for the error message. */
export interface ListenerRole {
  what: string;
  setting: string;
}

export const listenerRoles = {
  proxy: { what: "the proxy", setting: "--port, VELTRIX_PORT or the pod annotation veltrix.io/proxy-port" },
  admin: {
    what: "the admin API",
    setting: "--admin-port, VELTRIX_ADMIN_PORT or the pod annotation veltrix.io/admin-port",
  },
  metrics: {
    what: "the metrics listener",
    setting: "--metrics-port, VELTRIX_METRICS_PORT or the pod annotation veltrix.io/metrics-port",
  },
} as const satisfies Record<string, ListenerRole>;

/**
 * `reusePort`: bind with SO_REUSEPORT, in each --workers process, so the kernel spreads new
 * connections over the workers. node:cluster's default has the primary accept every
 * connection and pass it to a worker over IPC: ~10 % of the workers' busy time at 20,000
 * held connections (docs/benchmarks.md, the story's CPU scenario).
 */
export function listenOn(
  server: Server,
  port: number,
  host: string,
  role: ListenerRole,
  opts: { reusePort?: boolean; backlog?: number } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      if (err.code !== "EADDRINUSE" && err.code !== "EACCES") return reject(err);
      const why = err.code === "EADDRINUSE" ? "another process in the pod uses it" : "not permitted";
      reject(
        new Error(`cannot listen on ${host}:${port} for ${role.what}: ${why}; set ${role.setting}`, {
          cause: err,
        }),
      );
    };
    server.once("error", fail);
    const reusePort = opts.reusePort ?? false;
    // exclusive: a cluster worker binds the socket itself instead of asking the primary.
    server.listen({ port, host, exclusive: reusePort, reusePort, backlog: opts.backlog ?? 511 }, () => {
      server.off("error", fail);
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : port);
    });
  });
}
