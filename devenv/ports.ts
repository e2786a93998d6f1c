import { createServer, type Server } from "node:net";

/**
 * Ports are chosen below the kernel's ephemeral range (32768 and up by default), where
 * no outgoing connection is ever given one: a port the OS handed out with `listen(0)`
 * and then released was sometimes taken by a client socket before the process meant to
 * listen on it could (EADDRINUSE under load). Below 30000 also keeps clear of NodePorts.
 */
const range = { first: 20_000, last: 29_999 };

function listenOn(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

/**
 * Ports this process handed out: a port is free until its process binds it, which may be
 * much later (fifty sidecars starting one after another), so it is never handed out twice.
 */
const handedOut = new Set<number>();

/** A listener on a random free port of `range` that this process has not handed out before. */
async function listenFree(): Promise<Server> {
  for (let tries = 0; tries < 200; tries++) {
    const port = range.first + Math.floor(Math.random() * (range.last - range.first + 1));
    if (handedOut.has(port)) continue;
    const srv = await listenOn(port);
    if (srv) {
      handedOut.add(port);
      return srv;
    }
  }
  throw new Error(`no free port in ${range.first}-${range.last} after 200 tries`);
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
    for (let i = 0; i < count; i++) servers.push(await listenFree());
    return servers.map((s) => {
      const addr = s.address();
      return typeof addr === "object" && addr ? addr.port : 0;
    }) as Ports<N>;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}
