// One tenant's NATS connection trying things on another's subjects, each attempt's outcome
// recorded for a printed table: a subscription the server refuses (-ERR before the flush's
// PONG), a request whose publish it refuses, a JetStream API call it answers with an error.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type ConfigRef,
  configBucket,
  consumerName,
  inboxPrefix,
  outcomeBucketName,
  queueSubjectPrefix,
  replyPrefix,
  sidecarStatusBucket,
  streamName,
} from "../../../api/contract.ts";

export interface Attempt {
  what: string;
  subject: string;
  outcome: string;
  refused: boolean;
}

const violation = /Permissions Violation for (Subscription|Publish) to/i;

/** Subscribes to `subject` and reports whether the server kept the subscription. */
export async function trySubscribe(nc: NatsConnection, what: string, subject: string): Promise<Attempt> {
  const sub = nc.subscribe(subject);
  // nats.js ends a refused subscription with the server's error, resolved or rejected.
  const ended = sub.closed.then(
    (v: unknown) => v,
    (err: unknown) => err,
  );
  await nc.flush();
  if (!sub.isClosed()) {
    sub.unsubscribe();
    return { what, subject, outcome: "subscribed", refused: false };
  }
  const why = String(await ended);
  const refused = violation.test(why);
  return { what, subject, outcome: refused ? "refused: subscribe permission" : `ended: ${why}`, refused };
}

/**
 * Publishes a request to `subject`: the server refuses the publish (nats.js rejects the
 * request with its permission error), or something answers (an allowed JetStream API call
 * answers even when it fails), or nothing does.
 */
export async function tryRequest(
  nc: NatsConnection,
  what: string,
  subject: string,
  payload = "{}",
): Promise<Attempt> {
  try {
    const reply = await nc.request(subject, payload, { timeout: 5_000 });
    let error: string | undefined;
    try {
      error = reply.json<{ error?: { description?: string } }>().error?.description;
    } catch {
      error = undefined; // not JSON: an answer all the same
    }
    return { what, subject, outcome: error ? `answered, error: ${error}` : "answered", refused: false };
  } catch (err) {
    const why = String(err);
    if (violation.test(why)) return { what, subject, outcome: "refused: publish permission", refused: true };
    return { what, subject, outcome: `not refused (${why.slice(0, 60)})`, refused: false };
  }
}

/**
 * Every way into `victim`'s traffic, tried on `nc` (another tenant's connection): each
 * wildcard on inboxes and replies, the queue, the stream and its consumer, the outcome and
 * config buckets, the JetStream API. The node suite can run the same list.
 */
export async function tryEverythingOf(nc: NatsConnection, victim: ConfigRef): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  const subscribe = async (what: string, subject: string) =>
    attempts.push(await trySubscribe(nc, what, subject));
  const request = async (what: string, subject: string, payload?: string) =>
    attempts.push(await tryRequest(nc, what, subject, payload));
  const stream = streamName(victim);
  const outcomes = outcomeBucketName(victim);
  const key = `${victim.namespace}.${victim.name}`;

  await subscribe(
    "read the victim's inboxes (pulled requests, JetStream answers)",
    `${inboxPrefix(victim)}.>`,
  );
  await subscribe("read every tenant's inboxes", "_VX.inbox.>");
  await subscribe("read the victim's namespace's inboxes", `_VX.inbox.${victim.namespace}.>`);
  await subscribe("read the victim's sync replies", `${replyPrefix(victim)}.>`);
  await subscribe("read every tenant's replies", "_VX.reply.>");
  await subscribe("read everything under _VX", "_VX.>");
  await subscribe("read nats.js's default inboxes", "_INBOX.>");
  await subscribe("read everything", ">");
  await subscribe("read the victim's queue subjects", `${queueSubjectPrefix(victim)}.>`);
  await subscribe("read the victim's dead letters", `veltrix.dlq.${victim.namespace}.${victim.name}`);
  await subscribe("read the victim's outcome writes", `$KV.${outcomes}.>`);
  await subscribe("read the victim's config updates", `$KV.${configBucket}.${key}`);
  await subscribe("read the victim's status reports", `$KV.${sidecarStatusBucket}.${key}.*`);
  await subscribe("watch JetStream API traffic", "$JS.API.>");
  await subscribe("watch acks", `$JS.ACK.${stream}.>`);

  await request("queue a request for the victim (sync)", `${queueSubjectPrefix(victim)}.sync`);
  await request("queue a request for the victim (async)", `${queueSubjectPrefix(victim)}.async`);
  await request("forge a reply to a victim's holder", `${replyPrefix(victim)}.holder.req-1`);
  await request("announce a victim's dead letter", `veltrix.dlq.${victim.namespace}.${victim.name}`);
  await request("list streams", "$JS.API.STREAM.LIST");
  await request("list stream names", "$JS.API.STREAM.NAMES");
  await request("stream info of the victim's queue", `$JS.API.STREAM.INFO.${stream}`);
  await request("read a message of the victim's queue", `$JS.API.STREAM.MSG.GET.${stream}`, '{"seq":1}');
  await request("direct-get from the victim's queue", `$JS.API.DIRECT.GET.${stream}`, '{"seq":1}');
  await request("purge the victim's queue", `$JS.API.STREAM.PURGE.${stream}`);
  await request("delete the victim's queue", `$JS.API.STREAM.DELETE.${stream}`);
  await request("consumer info of the victim's consumer", `$JS.API.CONSUMER.INFO.${stream}.${consumerName}`);
  await request(
    "pull the victim's requests",
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumerName}`,
    '{"batch":1,"expires":1000000000}',
  );
  await request("add a consumer on the victim's queue", `$JS.API.CONSUMER.CREATE.${stream}.spy`);
  await request("delete the victim's consumer", `$JS.API.CONSUMER.DELETE.${stream}.${consumerName}`);
  await request("ack the victim's messages", `$JS.ACK.${stream}.${consumerName}.1.1.1.0.0`, "+ACK");
  await request("outcome bucket info", `$JS.API.STREAM.INFO.KV_${outcomes}`);
  await request("read a victim's outcome", `$JS.API.DIRECT.GET.KV_${outcomes}.$KV.${outcomes}.${key}.req-1`);
  await request("write a victim's outcome", `$KV.${outcomes}.${key}.req-1`);
  await request(
    "read the victim's config",
    `$JS.API.DIRECT.GET.KV_${configBucket}.$KV.${configBucket}.${key}`,
  );
  await request(
    "watch the victim's config",
    `$JS.API.CONSUMER.CREATE.KV_${configBucket}.spy.$KV.${configBucket}.${key}`,
  );
  await request("write the victim's config", `$KV.${configBucket}.${key}`);
  await request("forge a victim's status report", `$KV.${sidecarStatusBucket}.${key}.pod-1`);
  await request("read the whole config bucket", `$JS.API.STREAM.MSG.GET.KV_${configBucket}`, '{"seq":1}');
  await request("system account requests", "$SYS.REQ.SERVER.PING");
  return attempts;
}

/** The attempts as a Markdown table. */
export function attemptsTable(attempts: readonly Attempt[]): string {
  const rows = attempts.map((a) => `| ${a.what} | \`${a.subject}\` | ${a.outcome} |`);
  return ["| attempt | subject | outcome |", "| --- | --- | --- |", ...rows].join("\n");
}
