// Revokes the NATS users of deleted VeltrixConfigs at once instead of letting them live
// until their JWTs expire. The revoked users are kept in a KV bucket, dropped once they were
// revoked longer ago than a minted user lives (a JWT past its expiry needs no revocation);
// the account JWT with them as its revocations (account-claims.ts) is pushed over a
// system-account connection to $SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE, which the memory
// and full resolvers of nats-server apply without a restart. Pushed again on every
// (re)connect, since a restarted nats-server is back at its preloaded account JWT.
import { type KV, Kvm } from "@nats-io/kv";
import type { KeyPair } from "@nats-io/nkeys";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type NatsClientSettings, natsConnectionOptions } from "../../lib/nats-auth.ts";
import { accountOf, accountWithRevocations, liveRevocations, type Revocations } from "./account-claims.ts";

/** KV bucket of revoked users: key the user's public key, value its revocation time (s). */
export const revokedUsersBucket = "veltrix-revoked-users";

/** What pushing revocations takes: the account's JWT, an operator signing key, a system user. */
export interface RevocationAuthority {
  /** The account JWT nats-server preloads (its claims are kept; only revocations change). */
  accountJwt: string;
  /** A signing key of the NATS operator (O...), listed in the operator JWT. */
  operatorKey: KeyPair;
  /** Connects as a system-account user: its .creds, with the operator's TLS settings. */
  system: NatsClientSettings;
}

export class UserRevocations {
  private readonly authority: RevocationAuthority;
  private readonly servers: string;
  private readonly keepMs: number;
  readonly account: string;

  constructor(o: { authority: RevocationAuthority; servers: string; validityMs: number }) {
    this.authority = o.authority;
    this.servers = o.servers;
    // A user revoked now was minted at most validityMs ago; a minute of clock slack.
    this.keepMs = o.validityMs + 60_000;
    this.account = accountOf(o.authority.accountJwt);
  }

  private bucket(nc: NatsConnection): Promise<KV> {
    return new Kvm(nc).create(revokedUsersBucket, { history: 1 });
  }

  /** Revokes `user` (issued before `now`) and pushes the account JWT. */
  async revoke(nc: NatsConnection, user: string, now: Date): Promise<void> {
    const kv = await this.bucket(nc);
    await kv.put(user, String(Math.floor(now.getTime() / 1000)));
    await this.push(nc, now);
  }

  /** Pushes the account JWT with every revoked user still needed at `now`; drops the others. */
  async push(nc: NatsConnection, now = new Date()): Promise<number> {
    const kv = await this.bucket(nc);
    const all: Revocations = {};
    for await (const user of await kv.keys()) {
      const entry = await kv.get(user);
      if (entry?.operation === "PUT") all[user] = Number(entry.string());
    }
    const { live, expired } = liveRevocations(all, now, this.keepMs);
    for (const user of expired) await kv.purge(user);
    const jwt = await accountWithRevocations(this.authority.accountJwt, live, this.authority.operatorKey);
    const sys = await connect({
      servers: this.servers,
      name: "veltrix-operator-revocations",
      ...natsConnectionOptions(this.authority.system),
    });
    try {
      const reply = await sys.request(`$SYS.REQ.ACCOUNT.${this.account}.CLAIMS.UPDATE`, jwt, {
        timeout: 5_000,
      });
      const answer = reply.json<{
        data?: { code?: number; message?: string };
        error?: { description?: string };
      }>();
      // "jwt update skipped" (also 200) means the account was not loaded: nothing changed.
      if (answer.error || answer.data?.code !== 200 || answer.data.message !== "jwt updated") {
        throw new Error(
          `nats-server did not take the account JWT of ${this.account}: ${answer.error?.description ?? answer.data?.message ?? reply.string()}`,
        );
      }
    } finally {
      await sys.close();
    }
    return Object.keys(live).length;
  }
}
