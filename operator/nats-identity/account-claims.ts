// The account JWT with the operator's revocations in it: the account's claims as the admin
// made them (the JWT nats-server preloads), with `revocations` set to the users revoked
// and not yet expired, signed again by a NATS operator signing key. nats-server refuses,
// and disconnects, any user whose JWT was issued at or before its revocation time. No I/O.
import { type Account, decode, encodeAccount } from "@nats-io/jwt";
import type { KeyPair } from "@nats-io/nkeys";

/** User public key → revocation time in seconds since the epoch. */
export type Revocations = Record<string, number>;

interface AccountClaims {
  name: string;
  sub: string;
  exp?: number;
  nats: Partial<Account>;
}

/**
 * The revocations still needed at `now`: a user revoked more than `keepMs` ago (the longest a
 * minted user lives, plus slack) holds a JWT that expired anyway. Returns those and the rest.
 */
export function liveRevocations(
  revoked: Revocations,
  now: Date,
  keepMs: number,
): { live: Revocations; expired: string[] } {
  const live: Revocations = {};
  const expired: string[] = [];
  for (const [user, at] of Object.entries(revoked)) {
    if (now.getTime() - at * 1000 > keepMs) expired.push(user);
    else live[user] = at;
  }
  return { live, expired };
}

/** The public key of the account `accountJwt` describes. */
export function accountOf(accountJwt: string): string {
  return decode<Account>(accountJwt.trim()).sub;
}

/** `accountJwt` with exactly `revoked` as its revocations, signed by `operatorKey`. */
export async function accountWithRevocations(
  accountJwt: string,
  revoked: Revocations,
  operatorKey: KeyPair,
): Promise<string> {
  const base = decode<Account>(accountJwt.trim()) as AccountClaims;
  const { revocations: _old, version: _version, type: _type, ...rest } = base.nats;
  const claims: Partial<Account> = {
    ...rest,
    ...(Object.keys(revoked).length > 0 && { revocations: { ...revoked } }),
  };
  return encodeAccount(base.name, base.sub, claims, {
    signer: operatorKey,
    ...(base.exp !== undefined && { exp: base.exp }),
  });
}
