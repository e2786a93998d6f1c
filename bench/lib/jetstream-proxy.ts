// The raw JetStream anchor for `sync` mode: an HTTP server that publishes each request
// to a work-queue stream (msgID, wait for the ack), one pull consumer that calls the app
// and replies on core NATS to the holder, ack. No records, limits, headers or config.
//   node bench/lib/jetstream-proxy.ts PORT APP_PORT NATS_URL
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect, createInbox } from "@nats-io/transport-node";
import { Pool } from "undici";

const [port, appPort, natsUrl] = process.argv.slice(2);
// noAsyncTraces as in the sidecar: no Error objects built per publish for stack traces.
const nc = await connect({ servers: natsUrl ?? "nats://127.0.0.1:4222", noAsyncTraces: true });
const jsm = await jetstreamManager(nc);
const stream = `RAW_${randomUUID().slice(0, 8)}`;
await jsm.streams.add({ name: stream, subjects: [`${stream}.q`], retention: RetentionPolicy.Workqueue });
await jsm.consumers.add(stream, { durable_name: "w", ack_policy: AckPolicy.Explicit, max_ack_pending: -1 });
const js = jetstream(nc);
const pool = new Pool(`http://127.0.0.1:${appPort}`);
const inbox = createInbox();
const waiting = new Map<string, (body: Uint8Array) => void>();
nc.subscribe(`${inbox}.>`, {
  callback: (_err, msg) => waiting.get(msg.subject.slice(inbox.length + 1))?.(msg.data),
});

const consumer = await js.consumers.get(stream, "w");
const messages = await consumer.consume({ max_messages: 64 });
void (async () => {
  for await (const m of messages) {
    void pool.request({ path: "/", method: "GET" }).then(async (res) => {
      const body = await res.body.arrayBuffer();
      nc.publish(m.string(), new Uint8Array(body));
      m.ack();
    });
  }
})();

createServer((_req, res) => {
  const id = randomUUID();
  waiting.set(id, (body) => {
    waiting.delete(id);
    res.writeHead(200, { "content-length": body.length });
    res.end(body);
  });
  js.publish(`${stream}.q`, `${inbox}.${id}`, { msgID: id }).catch(() => {
    waiting.delete(id);
    res.statusCode = 503;
    res.end();
  });
}).listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
