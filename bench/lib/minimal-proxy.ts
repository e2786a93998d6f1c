// The smallest useful Node proxy: undici `stream` through one keep-alive Pool, no
// headers work, no limits, no records. The anchor the sidecar's overhead is read against.
//   node bench/lib/minimal-proxy.ts PORT UPSTREAM_PORT
import { createServer } from "node:http";
import { Pool } from "undici";

const pool = new Pool(`http://127.0.0.1:${process.argv[3] ?? "8080"}`, { keepAliveTimeout: 30_000 });
createServer((req, res) => {
  pool
    .stream(
      {
        path: req.url ?? "/",
        method: req.method as "GET",
        headers: req.headers,
        body: req.method === "GET" ? null : req,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, headers as Record<string, string>);
        return res;
      },
    )
    .catch(() => {
      res.statusCode = 502;
      res.end();
    });
}).listen(Number(process.argv[2] ?? 0), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
