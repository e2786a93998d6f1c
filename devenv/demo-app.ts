// The demo app the local stack puts behind the sidecar: it answers every request
// with what Veltrix told it (request id, config revision, delivery attempt) and the
// config it reads from the sidecar's admin API, so a person can see the path work.
//   node devenv/demo-app.ts PORT [ADMIN_URL] [HOST]
// HOST (default 127.0.0.1, reachable only through the sidecar in a pod) can be 0.0.0.0 so
// the kubelet can probe it on the pod's address.
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 8080);
const adminUrl = process.argv[3];
const host = process.argv[4] ?? "127.0.0.1";

const server = createServer((req, res) => {
  void (async () => {
    let config: unknown;
    if (adminUrl) {
      const r = await fetch(`${adminUrl}/v1/config`).catch(() => undefined);
      config = r?.ok ? await r.json() : undefined;
    }
    const body = JSON.stringify({
      path: req.url,
      requestId: req.headers["x-veltrix-request-id"] ?? null,
      configRevision: req.headers["x-veltrix-config-revision"] ?? null,
      attempt: req.headers["x-veltrix-attempt"] ?? null,
      config,
    });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(body);
  })();
});
server.listen(port, host, () => console.log(`demo app on ${host}:${port}`));
process.once("SIGTERM", () => server.close(() => process.exit(0)));
