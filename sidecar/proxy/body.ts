// Reading a request body whole, within queue.maxBodyBytes, before the request takes an
// app slot (direct) or a queue message (sync, async): a slow or stalled client holds only
// its socket, never the app. Past the limit: VX_ERR_BODY_TOO_LARGE.
import type { IncomingMessage } from "node:http";
import { VeltrixError } from "../../api/errors.ts";
import { failureCode, type ModeParts, type RequestContext } from "./context.ts";

const noBody = Buffer.alloc(0);

/** True when the request frames a body (a length or a transfer coding). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
}

/**
 * The admitted request's body, or undefined when it could not be read (too large, the
 * client left, the client timed out): then the record says why and the client is answered.
 * No body framing means no body: the stream is left unread (reading it makes the socket
 * allocate read buffers that a held request would keep).
 */
export async function admittedBody(p: ModeParts, ctx: RequestContext): Promise<Buffer | undefined> {
  if (!hasBody(ctx.req)) return noBody;
  try {
    return await readBody(ctx.req, ctx.rev.settings.maxBodyBytes);
  } catch (err) {
    const code = failureCode(err, ctx.res);
    p.store.update(ctx.id, { state: "failed", at: Date.now(), error: code });
    if (code !== "client_closed") p.fail(ctx, code);
    return undefined;
  }
}

export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners("data");
        req.resume();
        reject(new VeltrixError("VX_ERR_BODY_TOO_LARGE"));
        return;
      }
      chunks.push(c);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
