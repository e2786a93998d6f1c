// Mints the NATS user of one VeltrixConfig's sidecars with NATS decentralised auth: a fresh
// user NKey, and a user JWT signed by the account signing key the operator holds, carrying
// exactly sidecarNatsPermissions(ref) and an expiry. nats-server verifies the chain
// (operator → account → user) itself, so a new tenant needs no server change. No I/O;
// the clock is passed in.
import { encodeUser, fmtCreds } from "@nats-io/jwt";
import { createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { type ConfigRef, sidecarNatsPermissions } from "../../api/contract.ts";
import type { RevocationAuthority } from "./revocation.ts";

/** The account the operator issues users in, and the key it signs them with. */
export interface AccountSigner {
  /** Public key of the account (A...), the users' issuer_account. */
  account: string;
  /** The account's signing key (or the account key itself). */
  key: KeyPair;
}

/** What the operator mints sidecar users with: the account's signer and how long a user is valid. */
export interface NatsUserMinting {
  signer: AccountSigner;
  validityMs: number;
  /** Revoke a deleted config's user at once (revocation.ts); without, it lives until it expires. */
  revocation?: RevocationAuthority | undefined;
}

export interface MintedUser {
  /** The .creds file: user JWT, then the user's NKey seed. */
  creds: string;
  /** Public NKey of the user (U...), what a revocation names. */
  user: string;
  issuedAt: Date;
  expiresAt: Date;
}

function keyFromSeed(seed: string, kind: "A" | "O", what: string): KeyPair {
  const key = fromSeed(new TextEncoder().encode(seed.trim()));
  const got = key.getPublicKey()[0];
  if (got !== kind) {
    const noun = kind === "A" ? "an account" : "an operator";
    throw new Error(`${what} must be ${noun} NKey seed (S${kind}...), got a ${got} key`);
  }
  return key;
}

/** The signer from the account signing key's seed (S A...) and the account's public key. */
export function accountSigner(seed: string, account?: string): AccountSigner {
  const key = keyFromSeed(seed, "A", "the NATS account signing key");
  const id = account?.trim() || key.getPublicKey();
  if (!/^A[A-Z2-7]{55}$/.test(id)) throw new Error(`not a NATS account public key: '${id}'`);
  return { account: id, key };
}

/** An operator signing key from its seed (S O...), for signing the account JWT again. */
export function operatorSigningKey(seed: string): KeyPair {
  return keyFromSeed(seed, "O", "the NATS operator signing key");
}

/** The user JWT's name: "<namespace>/<name>", what nats-server logs for the connection. */
export function sidecarUserName(ref: ConfigRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** A new NATS user for the sidecars of `ref`, valid from `now` for `validityMs`. */
export async function mintSidecarUser(
  ref: ConfigRef,
  signer: AccountSigner,
  now: Date,
  validityMs: number,
): Promise<MintedUser> {
  const user = createUser();
  const p = sidecarNatsPermissions(ref);
  const issuedAt = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const expiresAt = new Date(issuedAt.getTime() + Math.floor(validityMs / 1000) * 1000);
  const ownKey = signer.key.getPublicKey() === signer.account;
  const jwt = await encodeUser(
    sidecarUserName(ref),
    user,
    ownKey ? signer.key : signer.account,
    {
      pub: { allow: p.publish },
      sub: { allow: p.subscribe },
      allowed_connection_types: ["STANDARD"],
      bearer_token: false,
    },
    {
      nbf: issuedAt.getTime() / 1000,
      exp: expiresAt.getTime() / 1000,
      ...(!ownKey && { signer: signer.key }),
    },
  );
  return {
    creds: new TextDecoder().decode(fmtCreds(jwt, user)),
    user: user.getPublicKey(),
    issuedAt,
    expiresAt,
  };
}
