// One tenant's NATS connection trying things on another's subjects, each attempt's outcome
// recorded for a printed table: a subscription the server refuses (-ERR before the flush's
// PONG), a request whose publish it refuses, a JetStream API call it answers with an error.
import type { NatsConnection } from "@nats-io/transport-node";

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

/** The attempts as a Markdown table. */
export function attemptsTable(attempts: readonly Attempt[]): string {
  const rows = attempts.map((a) => `| ${a.what} | \`${a.subject}\` | ${a.outcome} |`);
  return ["| attempt with B's user | subject | outcome |", "| --- | --- | --- |", ...rows].join("\n");
}
