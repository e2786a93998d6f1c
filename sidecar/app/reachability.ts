// Whether the app accepts connections, for the executor: it pulls queued requests only
// while it does. Unknown at start (a native sidecar starts before its app, which may take
// seconds to listen) and after the app refused a connection (it exited after its preStop
// while the pod terminates, or its container restarts); a TCP connect every `intervalMs`
// finds it again. A request that found the app refusing never reached it: pulling more
// would only spend their deliveries (queue.maxDeliver) on this pod while other pods' apps
// answer, and dead-letter requests no app ever saw.
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { VeltrixError } from "../../api/errors.ts";

/** Between two connection attempts while the app is unreachable. */
const probeIntervalMs = 250;
/** A connection attempt not answered by then counts as refused. */
const probeTimeoutMs = 1_000;

export interface AppReachabilityOptions {
  host: string;
  port: number;
  /** Called when the app accepts connections (again). */
  onReachable?: () => void;
  /** Called when a refused connection made it unreachable (not at start). */
  onUnreachable?: () => void;
  intervalMs?: number;
}

export class AppReachability {
  private readonly o: AppReachabilityOptions;
  private reachable = false;
  private probing = false;
  private stopped = false;

  constructor(opts: AppReachabilityOptions) {
    this.o = opts;
  }

  /** True once a connection to the app succeeded and none was refused since. */
  get up(): boolean {
    return this.reachable;
  }

  /** Probes until the app accepts a connection. */
  start(): void {
    void this.probe();
  }

  /** A request found the app refusing connections: unreachable until a probe connects. */
  refused(): void {
    if (this.stopped || !this.reachable) return;
    this.reachable = false;
    this.o.onUnreachable?.();
    void this.probe();
  }

  stop(): void {
    this.stopped = true;
  }

  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      while (!this.stopped && !(await canConnect(this.o.host, this.o.port))) {
        await sleep(this.o.intervalMs ?? probeIntervalMs, undefined, { ref: false });
      }
    } finally {
      this.probing = false;
    }
    if (this.stopped) return;
    this.reachable = true;
    this.o.onReachable?.();
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(probeTimeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** True when `err` (from Upstream) says the app refused the connection: the request never reached it. */
export function connectionRefused(err: unknown): boolean {
  const cause = err instanceof VeltrixError ? err.cause : err;
  return (cause as { code?: unknown } | undefined)?.code === "ECONNREFUSED";
}
