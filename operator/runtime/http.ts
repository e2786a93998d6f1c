// node:http's createServer, taken with process.getBuiltinModule: an ESM `import ... from
// "node:http"` evaluates every export of the module, and node:http's WebSocket, CloseEvent
// and MessageEvent getters then load Node's bundled undici (+13 MiB RSS in a process that
// never uses them; the sidecar's sidecar/http.ts does the same, ADR 0009). Types still come
// from node:http.
export const { createServer } = process.getBuiltinModule("node:http");
