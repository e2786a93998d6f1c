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
import type { Limiter } from "./limiter.ts";

export interface UpgradeParts {
  readonly upstream: Upstream;
  readonly limiter: Limiter;
  /** Answers on the raw socket and closes it. */
  refuse(socket: Duplex, code: ErrorCode, detail?: string): void;
}

/** Passes an admitted upgrade to the app once it has a slot; `headers` are the app's. */
export async function passUpgrade(
  p: UpgradeParts,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: string,
  headers: HeaderMap,
  maxWaitMs: number,
): Promise<void> {
  const got = p.limiter.acquire(maxWaitMs);
  const ok = got === "granted" ? true : got === "full" ? false : await got;
  if (!ok) return p.refuse(socket, got === "full" ? "VX_ERR_QUEUE_FULL" : "VX_ERR_QUEUE_TIMEOUT");
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    p.limiter.release();
  };
  if (socket.destroyed) return release();
  const { host, port } = p.upstream.origin;
  const app = connect(port, host);
  app.once("connect", () => {
    app.write(upgradeHead(req.method ?? "GET", target, headers, String(req.headers.upgrade)));
    if (head.length > 0) app.write(head);
    socket.pipe(app);
    app.pipe(socket);
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
