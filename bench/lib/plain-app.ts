// The trivial app the proxy benchmarks put behind every proxy: answers a small body at
// once, or holds the request open for `?hold=MS` (memory benchmarks).
//   node bench/lib/plain-app.ts PORT
import { createServer } from "node:http";

const body = Buffer.from('{"ok":true}');
const server = createServer((req, res) => {
  const hold = req.url?.startsWith("/hold") ? 600_000 : 0;
  const answer = (): void => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  };
  req.resume();
  if (hold) setTimeout(answer, hold).unref();
  else answer();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
