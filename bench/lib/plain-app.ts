// The trivial app the proxy benchmarks put behind every proxy: answers a small body at
// once, or holds a `/hold` request open for ten minutes (memory benchmarks) or until
// `/release`, which answers every held request and from then on answers `/hold` at once.
//   node bench/lib/plain-app.ts PORT
import { createServer } from "node:http";

const body = Buffer.from('{"ok":true}');
const held = new Set<() => void>();
let released = false;
const server = createServer((req, res) => {
  const hold = !released && req.url?.startsWith("/hold");
  const answer = (): void => {
    if (!held.delete(answer) && hold) return; // answered already (released, or the client left)
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  };
  req.resume();
  if (req.url === "/release") {
    released = true;
    for (const h of [...held]) h();
  }
  if (hold) {
    held.add(answer);
    setTimeout(answer, 600_000).unref();
    res.once("close", () => held.delete(answer));
  } else answer();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
