// node:http's createServer and STATUS_CODES, taken with process.getBuiltinModule: an ESM
// `import ... from "node:http"` evaluates every export of the module, and node:http's
// WebSocket, CloseEvent and MessageEvent getters then load Node's bundled undici (with
// http2, tls and its llhttp WebAssembly): +13 MiB RSS in a process that never uses them
// (Node 24, docs/benchmarks.md "The sidecar's footprint"). Types still come from node:http.
const http = process.getBuiltinModule("node:http");

export const { createServer, STATUS_CODES } = http;
