// Reaching into the node's network namespace without giving the machine a route into it: a
// TCP listener on the machine's loopback hands each connection over a Unix socket (file
// system, not network) to a forwarder inside the namespace, which connects to the target
// there (the API server, a ClusterIP Service, a Service DNS name through the cluster DNS).
// So a test's client, helm and kubectl run on the machine, while every packet to the
// cluster is sent from inside the namespace.
//   node devenv/node/forward.ts tcp HOST:PORT SOCKET           (outside: loopback -> socket)
//   node devenv/node/forward.ts unix SOCKET HOST:PORT [DNS_IP]  (inside: socket -> target)
import { Resolver } from "node:dns/promises";
import { rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";

function splitHostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(":");
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
}

function pipe(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on("error", end);
  b.on("error", end);
  a.on("close", end);
  b.on("close", end);
}

function main(argv: string[]): void {
  const [mode, from, to, dnsServer] = argv;
  if (mode === "tcp" && from && to) {
    const { host, port } = splitHostPort(from);
    const server = createServer({ noDelay: true }, (client) => pipe(client, connect({ path: to })));
    server.listen(port, host, () => console.log(`forwarding ${from} -> ${to}`));
    return;
  }
  if (mode === "unix" && from && to) {
    const target = splitHostPort(to);
    const resolver = new Resolver({ timeout: 2_000, tries: 2 });
    if (dnsServer) resolver.setServers([dnsServer]);
    const isIp = /^[\d.]+$/.test(target.host);
    const address = async (): Promise<string> => {
      if (isIp) return target.host;
      const [first] = await resolver.resolve4(target.host);
      if (!first) throw new Error(`no address for ${target.host}`);
      return first;
    };
    rmSync(from, { force: true });
    const server = createServer((client) => {
      client.pause();
      address().then(
        (host) => {
          const upstream = connect({ host, port: target.port, noDelay: true });
          pipe(client, upstream);
          client.resume();
        },
        (err: unknown) => {
          console.error(`resolving ${target.host}: ${String(err)}`);
          client.destroy();
        },
      );
    });
    server.listen(from, () =>
      console.log(`forwarding ${from} -> ${to}${dnsServer ? ` (dns ${dnsServer})` : ""}`),
    );
    process.once("SIGTERM", () => server.close(() => process.exit(0)));
    return;
  }
  console.error("usage: forward.ts tcp HOST:PORT SOCKET | unix SOCKET HOST:PORT [DNS_IP]");
  process.exit(2);
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
