// A raw-socket HTTP/1.1 client for the fidelity suite: writes request bytes exactly as
// given (malformed ones included) and parses what comes back, response by response,
// interim (1xx) answers and trailers included. No HTTP library between the test and the
// bytes: node:http and fetch refuse most of the shapes the suite sends.
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  /** Header names lowercased, in the order received. */
  headers: [string, string][];
  body: Buffer;
  trailers: [string, string][];
}

export interface RawExchange {
  /** Interim (1xx except 101) answers, in order. */
  interim: number[];
  responses: RawResponse[];
  /** The peer closed (or reset) the connection. */
  closed: boolean;
  /** Neither the responses expected nor a close came before the deadline. */
  hung: boolean;
}

export interface ExchangeOptions {
  /** Final responses to wait for (pipelined requests: one each). */
  responses: number;
  /** Methods of the requests, in order (HEAD answers carry no body). */
  methods: string[];
  /**
   * Sent after the first part once an interim or final answer arrived (a client that
   * waits for 100 Continue) or, with `pauseMs`, after that time (a slow client).
   */
  rest?: Buffer[];
  pauseMs?: number;
  /** Turns a hang into a failure; generous (it is not a speed assertion). */
  deadlineMs?: number;
}

const crlf = Buffer.from("\r\n");

/** Sends `first` (then `rest`) on a new connection and collects the answers. */
export function exchange(port: number, first: Buffer, opts: ExchangeOptions): Promise<RawExchange> {
  return new Promise((resolve) => {
    const out: RawExchange = { interim: [], responses: [], closed: false, hung: false };
    const socket = connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    let done = false;
    let restSent = false;
    const rest = opts.rest ?? [];
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(out);
    };
    const deadline = setTimeout(() => {
      out.hung = true;
      finish();
    }, opts.deadlineMs ?? 20_000);
    const sendRest = (): void => {
      if (restSent || done) return;
      restSent = true;
      const next = rest.shift();
      if (!next) return;
      socket.write(next);
      if (rest.length > 0 && opts.pauseMs !== undefined) {
        restSent = false;
        setTimeout(sendRest, opts.pauseMs);
      }
    };
    socket.on("connect", () => {
      socket.write(first);
      if (opts.pauseMs !== undefined) setTimeout(sendRest, opts.pauseMs);
    });
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const method = opts.methods[out.responses.length] ?? "GET";
        const parsed = parseResponse(buf, method, false);
        if (!parsed) break;
        buf = buf.subarray(parsed.used);
        if (parsed.response.status < 200 && parsed.response.status !== 101) {
          out.interim.push(parsed.response.status);
        } else out.responses.push(parsed.response);
        sendRest();
        if (out.responses.length >= opts.responses || parsed.response.status === 101) return finish();
      }
    });
    const closed = (): void => {
      out.closed = true;
      // A body delimited by the close is complete now.
      const parsed = parseResponse(buf, opts.methods[out.responses.length] ?? "GET", true);
      if (parsed) out.responses.push(parsed.response);
      finish();
    };
    socket.on("end", closed);
    socket.on("error", closed);
    socket.on("close", closed);
  });
}

/** One response at the start of `buf`, or undefined while it is incomplete. */
function parseResponse(
  buf: Buffer,
  method: string,
  atClose: boolean,
): { response: RawResponse; used: number } | undefined {
  const headEnd = buf.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const lines = buf.subarray(0, headEnd).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
  const headers = lines.slice(1).map(splitField);
  const response: RawResponse = { status, headers, body: Buffer.alloc(0), trailers: [] };
  let at = headEnd + 4;
  const noBody = method === "HEAD" || status < 200 || status === 204 || status === 304;
  if (noBody) return { response, used: at };
  const te = header(response, "transfer-encoding");
  const length = header(response, "content-length");
  if (te?.toLowerCase().includes("chunked")) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf(crlf, at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(at, lineEnd).toString("latin1"), 16);
      at = lineEnd + 2;
      if (size === 0) break;
      if (buf.length < at + size + 2) return undefined;
      parts.push(buf.subarray(at, at + size));
      at += size + 2;
    }
    for (;;) {
      const lineEnd = buf.indexOf(crlf, at);
      if (lineEnd < 0) return undefined;
      const line = buf.subarray(at, lineEnd).toString("latin1");
      at = lineEnd + 2;
      if (line === "") break;
      response.trailers.push(splitField(line));
    }
    response.body = Buffer.concat(parts);
    return { response, used: at };
  }
  if (length !== undefined) {
    const n = Number(length);
    if (buf.length < at + n) return undefined;
    response.body = buf.subarray(at, at + n);
    return { response, used: at + n };
  }
  if (!atClose) return undefined;
  response.body = buf.subarray(at);
  return { response, used: buf.length };
}

function splitField(line: string): [string, string] {
  const colon = line.indexOf(":");
  return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
}

export function header(r: RawResponse, name: string): string | undefined {
  return r.headers.find(([n]) => n === name)?.[1];
}
