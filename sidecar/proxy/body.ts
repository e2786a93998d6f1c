// Reading a request body within queue.maxBodyBytes: streamed on (direct) or whole
// (queued). Past the limit both fail with VX_ERR_BODY_TOO_LARGE.
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { VeltrixError } from "../../api/errors.ts";

/** True when the request frames a body (a length or a transfer coding). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
}

/** Counts a chunked body on its way up; errors with VX_ERR_BODY_TOO_LARGE past the limit. */
export function limitBody(req: IncomingMessage, max: number): Readable {
  return Readable.from(
    (async function* () {
      let size = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > max) throw new VeltrixError("VX_ERR_BODY_TOO_LARGE");
        yield chunk;
      }
    })(),
  );
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
