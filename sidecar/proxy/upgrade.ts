// Protocol upgrades (WebSocket, RFC 9110 §7.8). In `direct` the handshake goes to the app
// on a connection of its own and, whatever the app answers, bytes then pass both ways
// until either side closes; the connection holds one app slot for its whole life, so the
// app still never has more than `maxConcurrency` requests. `sync` and `async` carry one
// request and one answer through JetStream: they refuse with 501.
import type { IncomingMessage } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import type { ErrorCode } from "../../api/errors.ts";
import type { HeaderMap } from "../app/headers.ts";
import type { Upstream } from "../app/upstream.ts";
import type { RequestStore } from "../state/store.ts";
import type { Limiter } from "./limiter.ts";

export interface UpgradeParts {
  readonly upstream: Upstream;
  readonly limiter: Limiter;
  readonly store: RequestStore;
  /** Answers on the raw socket and closes it. */
  refuse(socket: Duplex, code: ErrorCode, detail?: string): void;
}

/** An upgrade request admitted (recorded as received): its socket and what the app gets. */
export interface Upgrade {
  id: string;
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  target: string;
  headers: HeaderMap;
}

/**
 * Passes an admitted upgrade to the app once it has a slot. Its record goes
 * dispatched, then done with the app's status when the connection closes.
 */
export async function passUpgrade(p: UpgradeParts, u: Upgrade, maxWaitMs: number): Promise<void> {
  const { id, req, socket, head } = u;
  const got = p.limiter.acquire(maxWaitMs);
  const ok = got === "granted" ? true : got === "full" ? false : await got;
  if (!ok) {
    const code = got === "full" ? "VX_ERR_QUEUE_FULL" : "VX_ERR_QUEUE_TIMEOUT";
    p.store.update(id, { state: "shed", at: Date.now(), error: code });
    return p.refuse(socket, code);
  }
  let status = 0;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    p.limiter.release();
    const at = Date.now();
    if (status > 0) p.store.update(id, { state: "done", at, status });
    else p.store.update(id, { state: "failed", at, error: socket.destroyed ? "client_closed" : "no answer" });
  };
  if (socket.destroyed) return release();
  p.store.update(id, { state: "dispatched", at: Date.now(), attempt: 1 });
  const { host, port } = p.upstream.origin;
  const app = connect(port, host);
  app.once("connect", () => {
    app.write(upgradeHead(req.method ?? "GET", u.target, u.headers, String(req.headers.upgrade)));
    if (head.length > 0) app.write(head);
    socket.pipe(app);
    app.pipe(socket);
  });
  app.once("data", (chunk: Buffer) => {
    status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(chunk.toString("latin1", 0, 16))?.[1] ?? 0);
  });
  app.once("error", () => {
    if (app.bytesRead === 0 && !socket.destroyed) p.refuse(socket, "VX_ERR_UPSTREAM_UNAVAILABLE");
    else socket.destroy();
  });
  socket.once("error", () => app.destroy());
  app.once("close", () => {
    socket.end();
    release();
  });
  socket.once("close", () => {
    app.destroy();
    release();
  });
}

/** The handshake's request head as the app receives it: origin-form, its headers, the upgrade asked. */
function upgradeHead(method: string, target: string, headers: HeaderMap, upgrade: string): string {
  const lines = [`${method} ${target} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  lines.push("connection: upgrade", `upgrade: ${upgrade}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}
