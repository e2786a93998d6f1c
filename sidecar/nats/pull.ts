// Pulls from the config's durable consumer through one inbox subscription that lives as
// long as the executor: each batch of free slots is one pull request (a publish to
// $JS.API.CONSUMER.MSG.NEXT) answered on that inbox. nats.js's `consumer.fetch`
// subscribes a new inbox per batch: a SUB, an UNSUB, an iterator and timers each time,
// ~900 times a second at 11k `sync` requests/s (ADR 0006).
//
// Slots are counted in total, as nats.js counts them: the server delivers a message with
// its own subject, so which pull it fills is not known, only how many messages are asked
// for and not delivered yet. A pull the queue could not fill ends with a status (408
// expired, 409 …) saying how many of its messages never came; a pull the server refused
// outright says nothing of the kind, and then every slot is handed back. After a
// reconnect the server may have dropped our pulls without a word (a crash) or kept them:
// every slot is handed back, and the inbox stays (nats.js subscribes it again), so a
// kept pull still delivers. Handing back too much is safe: a message that arrives when
// no slot is asked for is nak'ed at once (redelivered), so the app never sees more than
// the slots the executor asked for.
import {
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Status,
  type Subscription,
} from "@nats-io/transport-node";
import { inboxFor } from "./connect.ts";

/** A message delivered by a pull, and the JetStream acknowledgements the executor sends. */
export interface PulledMsg {
  readonly subject: string;
  readonly headers: MsgHdrs | undefined;
  readonly data: Uint8Array;
  /** 1 on the first delivery, counted by the server. */
  readonly deliveryCount: number;
  ack(): void;
  /** Redeliver, after `delayMs` when given. */
  nak(delayMs?: number): void;
  /** Never redeliver. */
  term(reason?: string): void;
}

export interface PullerOptions {
  stream: string;
  consumer: string;
  /** How long the server keeps a pull open waiting for messages. */
  expiresMs: number;
  onMessage: (m: PulledMsg) => void;
  /** Slots handed back (pulls that ended short): the caller may pull for them again. */
  onRelease: () => void;
  /** A pull the server refused or ended early (not an expiry): consumer gone, JetStream down, … */
  onRefused: (why: string) => void;
}

/** After a pull's expiry, how long its status may take before its slots are handed back. */
const statusGraceMs = 2_000;
const sweepEveryMs = 1_000;
const pendingHeader = "Nats-Pending-Messages";

export class Puller {
  private readonly nc: NatsConnection;
  private readonly o: PullerOptions;
  private readonly requestSubject: string;
  private inbox = "";
  /** Undefined after the server refused the subscription: the next pull subscribes again. */
  private sub: Subscription | undefined;
  private readonly status: AsyncIterable<Status> & { stop?: () => void };
  private readonly sweeper: NodeJS.Timeout;
  private asked = 0;
  private lastPullAt = 0;
  private stopped = false;

  constructor(nc: NatsConnection, opts: PullerOptions) {
    this.nc = nc;
    this.o = opts;
    this.requestSubject = `$JS.API.CONSUMER.MSG.NEXT.${opts.stream}.${opts.consumer}`;
    this.subscribe();
    this.sweeper = setInterval(this.sweep, sweepEveryMs).unref();
    this.status = nc.status();
    void this.watchReconnects();
  }

  /** Messages asked for and neither delivered nor handed back yet. */
  get pending(): number {
    return this.asked;
  }

  /** Asks the server for up to `n` messages. */
  pull(n: number): void {
    if (this.stopped || n <= 0) return;
    if (!this.sub) this.subscribe();
    this.asked += n;
    this.lastPullAt = Date.now();
    const request = JSON.stringify({ batch: n, expires: this.o.expiresMs * 1_000_000 });
    this.nc.publish(this.requestSubject, request, { reply: this.inbox });
  }

  /** Hands every slot back and stops receiving; messages still on the way are redelivered. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweeper);
    this.status.stop?.();
    this.sub?.unsubscribe();
    this.release(this.asked);
  }

  private subscribe(): void {
    const sub = this.nc.subscribe((this.inbox = inboxFor(this.nc)), {
      callback: (err, m) => {
        if (err) {
          // A refused subscription (permissions) is closed by nats.js.
          if (this.sub === sub) this.sub = undefined;
          this.release(this.asked);
          this.o.onRefused(`cannot receive pulled messages: ${err.message}`);
        } else if (m.reply) this.onDelivery(m);
        else this.onStatus(m.headers);
      },
    });
    this.sub = sub;
  }

  private onDelivery(m: Msg): void {
    const msg = new Pulled(m);
    if (this.asked === 0) {
      msg.nak(); // no slot was asked for it (handed back)
      return;
    }
    this.asked--;
    this.o.onMessage(msg);
  }

  /** 100 is a heartbeat; any other status ends a pull. */
  private onStatus(h: MsgHdrs | undefined): void {
    const code = h?.code ?? 0;
    if (code === 100) return;
    const left = h?.get(pendingHeader);
    if (left) this.release(Number.parseInt(left, 10));
    if (code === 408) return;
    // Refused before it was queued (no count): which pull is not known, so all slots
    // are handed back.
    if (!left) this.release(this.asked);
    const why =
      code === 503 ? "no responders (the stream or JetStream is not there)" : (h?.description ?? "");
    this.o.onRefused(`pull refused: ${code} ${why}`.trim());
  }

  private release(n: number): void {
    if (!(n > 0) || this.asked === 0) return;
    this.asked = Math.max(0, this.asked - n);
    this.o.onRelease();
  }

  /** Every pull has ended by now, one way or another: what is still counted was lost. */
  private readonly sweep = (): void => {
    if (this.asked > 0 && Date.now() - this.lastPullAt > this.o.expiresMs + statusGraceMs)
      this.release(this.asked);
  };

  /** After a reconnect the server may have dropped our pulls without a word: pull afresh. */
  private async watchReconnects(): Promise<void> {
    for await (const s of this.status) if (s.type === "reconnect" && !this.stopped) this.release(this.asked);
  }
}

const ack = new TextEncoder().encode("+ACK");
const nak = new TextEncoder().encode("-NAK");
const term = new TextEncoder().encode("+TERM");

/** The JetStream acknowledgement protocol on a delivered message's reply subject; the first answer counts. */
class Pulled implements PulledMsg {
  private readonly m: Msg;
  private answered = false;

  constructor(m: Msg) {
    this.m = m;
  }

  get subject(): string {
    return this.m.subject;
  }

  get headers(): MsgHdrs | undefined {
    return this.m.headers;
  }

  get data(): Uint8Array {
    return this.m.data;
  }

  get deliveryCount(): number {
    return deliveryCount(this.m.reply ?? "");
  }

  ack(): void {
    this.answer(ack);
  }

  nak(delayMs?: number): void {
    this.answer(delayMs ? `-NAK ${JSON.stringify({ delay: delayMs * 1_000_000 })}` : nak);
  }

  term(reason?: string): void {
    this.answer(reason ? `+TERM ${reason}` : term);
  }

  private answer(payload: Uint8Array | string): void {
    if (this.answered) return;
    this.answered = true;
    this.m.respond(payload);
  }
}

/**
 * The delivery count in a JetStream ack subject:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` or, from
 * servers that add a domain and account hash, `$JS.ACK.<domain>.<hash>.<stream>.…`
 * (12 tokens or more).
 */
export function deliveryCount(ackSubject: string): number {
  const t = ackSubject.split(".");
  const n = Number(t.length === 9 ? t[4] : t.length >= 12 ? t[6] : Number.NaN);
  return Number.isInteger(n) && n > 0 ? n : 1;
}
