// The fidelity suite's cases, as data: the bytes a client writes and the answer expected
// from the app itself (go-httpbin), from a proxy in front of it (HAProxy and the sidecar
// in every mode) and, where one mode differs by design, that mode's answer and the id of
// the row of docs/sidecar.md that documents the difference ("How the sidecar differs
// from a direct connection").
import { maxBodyBytes, type Target } from "./targets.ts";

/**
 * An expected answer per response: a status ("408"), a class ("2xx"), "closed" (the
 * connection closed without an answer), or several of those joined by "|".
 */
export type Answer = string;

export interface FidelityCase {
  name: string;
  /** Bytes written on connect; `\r\n` written out. */
  request: string;
  /** Written after the first answer (100 Continue) or, with `pauseMs`, after that time. */
  rest?: string[];
  pauseMs?: number;
  /** Final responses expected (pipelined requests), default 1. */
  responses?: number;
  /** What go-httpbin answers with no proxy in front. */
  app: Answer;
  /** What a proxy in front answers (HAProxy, the sidecar), when not what the app answers. */
  proxy?: Answer;
  /** The row of docs/sidecar.md that documents the sidecar's `proxy` answer. */
  row?: string;
  /** What HAProxy answers, when it differs from `proxy` (it is the reference, not the goal). */
  haproxy?: Answer;
  /** A mode's documented difference: its answer and its row in docs/sidecar.md. */
  differs?: Partial<Record<Target, { answer: Answer; row: string }>>;
  /** Headers whose presence must be the same as in the app's own answer (every target). */
  sameAsApp?: string[];
  /** Trailers the last response carries wherever its body is streamed. */
  trailers?: string[];
  /** Interim answers expected before the final one (where the request is forwarded). */
  interim?: number[];
  /**
   * Per target, what its last response holds: a text in its body (what go-httpbin echoed)
   * or a header, and the doc row that explains it where it differs from the app.
   */
  has?: Partial<Record<Target, { text?: string; header?: string; row?: string }>>;
}

export interface FidelityGroup {
  name: string;
  cases: FidelityCase[];
}

/** A request: its head lines joined by CRLF, the blank line, then the body. */
function http(lines: string[], body = ""): string {
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

const host = "Host: fidelity.test";

function chunked(body: string): string {
  return `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
}

export const groups: FidelityGroup[] = [
  {
    name: "methods and targets",
    cases: [
      { name: "GET", request: http(["GET /get?a=1&b=%20x HTTP/1.1", host]), app: "2xx" },
      {
        name: "HEAD keeps the app's framing",
        request: http(["HEAD /get HTTP/1.1", host]),
        app: "2xx",
        sameAsApp: ["content-length", "transfer-encoding"],
      },
      {
        name: "204 carries no length",
        request: http(["GET /status/204 HTTP/1.1", host]),
        app: "204",
        sameAsApp: ["content-length", "transfer-encoding"],
      },
      {
        name: "304 carries no length",
        request: http(["GET /status/304 HTTP/1.1", host]),
        app: "304",
        sameAsApp: ["content-length", "transfer-encoding"],
      },
      { name: "404 from the app", request: http(["GET /status/404 HTTP/1.1", host]), app: "404" },
      { name: "500 from the app", request: http(["GET /status/500 HTTP/1.1", host]), app: "500" },
      { name: "redirect", request: http(["GET /redirect-to?url=/get HTTP/1.1", host]), app: "3xx" },
      { name: "range", request: http(["GET /range/100 HTTP/1.1", host, "Range: bytes=0-9"]), app: "206" },
      {
        name: "gzip response",
        request: http(["GET /gzip HTTP/1.1", host, "Accept-Encoding: gzip"]),
        app: "2xx",
      },
      {
        name: "POST with a length",
        request: http(["POST /anything HTTP/1.1", host, "Content-Length: 5"], "hello"),
        app: "2xx",
      },
      { name: "PUT", request: http(["PUT /anything HTTP/1.1", host, "Content-Length: 2"], "{}"), app: "2xx" },
      { name: "DELETE", request: http(["DELETE /anything HTTP/1.1", host]), app: "2xx" },
      {
        name: "PATCH",
        request: http(["PATCH /anything HTTP/1.1", host, "Content-Length: 1"], "x"),
        app: "2xx",
      },
      {
        name: "HTTP/1.0 without Host",
        request: http(["GET /get HTTP/1.0"]),
        app: "2xx",
      },
      {
        name: "cookies set by the app",
        request: http(["GET /cookies/set?flavour=oat HTTP/1.1", host]),
        app: "3xx",
        sameAsApp: ["set-cookie", "location"],
      },
      {
        name: "a streamed (chunked) answer",
        request: http(["GET /stream/3 HTTP/1.1", host]),
        app: "2xx",
        has: {
          app: { header: "transfer-encoding" },
          direct: { header: "transfer-encoding" },
          sync: { header: "content-length", row: "queued-buffers" },
        },
      },
      {
        name: "a large answer",
        request: http(["GET /bytes/102400 HTTP/1.1", host]),
        app: "2xx",
        sameAsApp: ["content-type"],
      },
      {
        name: "Connection: close",
        request: http(["GET /get HTTP/1.1", host, "Connection: close"]),
        app: "2xx",
      },
      {
        name: "OPTIONS *",
        request: http(["OPTIONS * HTTP/1.1", host]),
        app: "200",
        differs: { async: { answer: "200", row: "options-asterisk" } },
      },
      {
        name: "absolute-form target naming the Host",
        request: http(["GET http://fidelity.test/anything HTTP/1.1", host]),
        app: "2xx",
      },
      {
        // The sidecars' configs have an override for /anything/admin (targets.ts).
        name: "an override matches the path the app routes on",
        request: http(["GET /anything/%61dmin HTTP/1.1", host]),
        app: "2xx",
        has: {
          direct: { text: '"X-Veltrix-Overrides"' },
          sync: { text: '"X-Veltrix-Overrides"' },
        },
      },
      {
        name: "absolute-form target naming another authority",
        request: http(["GET http://other.test/anything HTTP/1.1", host]),
        app: "2xx",
        proxy: "400",
        row: "strict-requests",
      },
    ],
  },
  {
    name: "framing and bodies",
    cases: [
      {
        name: "chunked request body",
        request: http(["POST /anything HTTP/1.1", host, "Transfer-Encoding: chunked"], chunked("hello")),
        app: "2xx",
        has: {
          app: { text: '"Transfer-Encoding"' },
          haproxy: { text: '"Transfer-Encoding"' },
          direct: { text: '"Content-Length"', row: "bodies-read-first" },
          sync: { text: '"Content-Length"', row: "bodies-read-first" },
        },
      },
      {
        name: "Expect: 100-continue",
        request: http(["POST /anything HTTP/1.1", host, "Content-Length: 5", "Expect: 100-continue"]),
        rest: ["hello"],
        app: "2xx",
        interim: [100],
      },
      {
        name: "response trailers",
        request: http(["GET /trailers?X-Check=yes HTTP/1.1", host]),
        app: "2xx",
        trailers: ["x-check"],
      },
      {
        name: "pipelined GETs",
        request: http(["GET /get?n=1 HTTP/1.1", host]) + http(["GET /get?n=2 HTTP/1.1", host]),
        responses: 2,
        app: "2xx",
      },
      {
        name: "pipelined POSTs",
        request:
          http(["POST /anything/1 HTTP/1.1", host, "Content-Length: 1"], "1") +
          http(["POST /anything/2 HTTP/1.1", host, "Content-Length: 1"], "2"),
        responses: 2,
        app: "2xx",
      },
      {
        name: "Content-Length and Transfer-Encoding together",
        request: http(
          ["POST /anything HTTP/1.1", host, "Content-Length: 4", "Transfer-Encoding: chunked"],
          chunked("hello"),
        ),
        app: "4xx|2xx",
        proxy: "4xx|2xx",
      },
    ],
  },
  {
    name: "malformed requests",
    cases: [
      {
        name: "two Host headers",
        request: http(["GET /get HTTP/1.1", host, "Host: other.test"]),
        app: "400",
        proxy: "400",
        row: "strict-requests",
      },
      {
        name: "no Host",
        request: http(["GET /get HTTP/1.1"]),
        app: "400",
        proxy: "400",
        row: "strict-requests",
      },
      {
        name: "Transfer-Encoding: gzip, chunked",
        request: http(
          ["POST /anything HTTP/1.1", host, "Transfer-Encoding: gzip, chunked"],
          chunked("hello"),
        ),
        app: "4xx|501",
        proxy: "4xx",
        row: "strict-requests",
      },
      {
        name: "Transfer-Encoding: identity, chunked",
        request: http(
          ["POST /anything HTTP/1.1", host, "Transfer-Encoding: identity, chunked"],
          chunked("hello"),
        ),
        app: "4xx|501",
        proxy: "4xx",
        row: "strict-requests",
      },
      {
        name: "two different Content-Lengths",
        request: http(["POST /anything HTTP/1.1", host, "Content-Length: 1", "Content-Length: 2"], "xy"),
        app: "400",
        proxy: "400",
        row: "strict-requests",
      },
      {
        name: "negative Content-Length",
        request: http(["POST /anything HTTP/1.1", host, "Content-Length: -1"]),
        app: "400",
        proxy: "400",
        row: "strict-requests",
      },
      {
        name: "space in a header name",
        request: http(["GET /get HTTP/1.1", host, "Bad Header: x"]),
        app: "400",
        proxy: "400",
        row: "strict-requests",
      },
      { name: "garbage request line", request: http(["FOO BAR"]), app: "400|closed", proxy: "400|closed" },
      {
        name: "HTTP/0.9 request line",
        request: "GET /get\r\n\r\n",
        app: "400|closed",
        proxy: "400|closed",
        row: "strict-requests",
      },
      {
        name: "headers over the limit",
        request: http(["GET /get HTTP/1.1", host, `X-Big: ${"b".repeat(40_000)}`]),
        app: "431",
        proxy: "4xx",
      },
    ],
  },
  {
    name: "slow clients",
    cases: [
      {
        name: "headers that stop coming",
        request: "GET /get HTTP/1.1\r\nHost: fidelity.test\r\n",
        app: "closed|408",
        proxy: "408",
        row: "client-timeouts",
      },
      {
        name: "headers that trickle past the headers timeout",
        request: "GET /get HTTP/1.1\r\nHost: fidelity.test\r\n",
        rest: [...Array.from({ length: 12 }, (_, i) => `X-Slow-${i}: 1\r\n`), "\r\n"],
        pauseMs: 500,
        app: "closed|408",
        proxy: "408",
        row: "client-timeouts",
      },
      {
        name: "a body that stops coming",
        request: http(["POST /anything HTTP/1.1", host, "Content-Length: 10"], "abc"),
        app: "closed|4xx",
        proxy: "408",
        row: "client-timeouts",
      },
    ],
  },
  {
    name: "upgrades",
    cases: [
      {
        name: "WebSocket",
        request: http([
          "GET /websocket/echo HTTP/1.1",
          host,
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version: 13",
        ]),
        app: "101",
        differs: {
          sync: { answer: "501", row: "upgrades-direct-only" },
          async: { answer: "501", row: "upgrades-direct-only" },
        },
      },
    ],
  },
  {
    name: "large bodies",
    cases: [
      {
        name: "a body of maxBodyBytes",
        request: http(
          ["POST /anything HTTP/1.1", host, `Content-Length: ${maxBodyBytes}`],
          "x".repeat(maxBodyBytes),
        ),
        app: "2xx",
        differs: {
          sync: { answer: "413", row: "queued-max-payload" },
          async: { answer: "413", row: "queued-max-payload" },
        },
      },
      {
        name: "a large upload to a route that answers without reading it",
        request: http(
          ["POST /status/201 HTTP/1.1", host, "Content-Length: 2097152"],
          "u".repeat(2 * 1024 * 1024),
        ),
        // The app (Go) closes a connection whose unread body is over 256 KiB: a client may see the reset first.
        app: "201|closed",
        differs: {
          direct: { answer: "201", row: "bodies-read-first" },
          sync: { answer: "201", row: "bodies-read-first" },
        },
      },
      {
        name: "a body over maxBodyBytes",
        request: http(
          ["POST /anything HTTP/1.1", host, `Content-Length: ${maxBodyBytes + 1}`],
          "x".repeat(maxBodyBytes + 1),
        ),
        app: "2xx",
        differs: {
          direct: { answer: "413", row: "max-body-bytes" },
          sync: { answer: "413", row: "max-body-bytes" },
          async: { answer: "413", row: "max-body-bytes" },
        },
      },
    ],
  },
];
