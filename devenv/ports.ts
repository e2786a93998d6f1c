import { createServer, type Server } from "node:net";

function listenEphemeral(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => resolve(srv));
  });
}

type Ports<N extends number, Acc extends number[] = []> = Acc["length"] extends N
  ? Acc
  : Ports<N, [...Acc, number]>;

/**
 * `count` distinct TCP ports free on 127.0.0.1 right now. All listeners stay open
 * until every port is chosen, so the OS cannot hand the same port out twice.
 */
export async function freePorts<N extends number>(count: N): Promise<Ports<N>> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenEphemeral());
    return servers.map((s) => {
      const addr = s.address();
      return typeof addr === "object" && addr ? addr.port : 0;
    }) as Ports<N>;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}
