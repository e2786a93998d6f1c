// Decides whether a config's minted NATS user is still good, from the .creds file its
// Secret holds now: renewed at two thirds of its life (like the webhook's certificate), and
// at once when it is missing or unreadable, was signed by another key than the operator's,
// lasts longer than the validity now asked for, or carries other permissions than
// sidecarNatsPermissions(ref) (an upgrade changed them). No I/O; `now` is passed in.
import { decode } from "@nats-io/jwt";
import { type ConfigRef, sidecarNatsPermissions } from "../../api/contract.ts";
import type { AccountSigner } from "./mint.ts";

export interface CredentialsVerdict {
  /** Why a new user must be minted now; undefined when the current one is kept. */
  renewReason?: string;
  /** When the kept user is due for renewal (two thirds of its life). */
  renewAt?: Date;
}

interface UserClaims {
  exp?: number;
  nbf?: number;
  iat: number;
  iss: string;
  nats: { issuer_account?: string; pub?: { allow?: string[] }; sub?: { allow?: string[] } };
}

const jwtBlock = /-----BEGIN NATS USER JWT-----\s*([^\s-][^\s]*)\s*-+END NATS USER JWT-+/;

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

/** When a user valid from `start` to `end` is renewed: at two thirds of its life. */
export function renewalTime(start: Date, end: Date): Date {
  return new Date(start.getTime() + ((end.getTime() - start.getTime()) * 2) / 3);
}

/** What to do with `creds` (the Secret's .creds file, or undefined when there is none). */
export function credentialsVerdict(
  creds: string | undefined,
  ref: ConfigRef,
  signer: AccountSigner,
  now: Date,
  validityMs: number,
): CredentialsVerdict {
  if (!creds) return { renewReason: "no credentials yet" };
  const token = jwtBlock.exec(creds)?.[1];
  let claims: UserClaims;
  try {
    if (!token) throw new Error("no JWT block");
    claims = decode<UserClaims["nats"]>(token);
  } catch {
    return { renewReason: "the credentials cannot be read" };
  }
  const issuer = claims.nats.issuer_account ?? claims.iss;
  if (claims.iss !== signer.key.getPublicKey() || issuer !== signer.account) {
    return { renewReason: "signed by another key" };
  }
  const p = sidecarNatsPermissions(ref);
  if (!sameList(claims.nats.pub?.allow, p.publish) || !sameList(claims.nats.sub?.allow, p.subscribe)) {
    return { renewReason: "permissions changed" };
  }
  if (claims.exp === undefined) return { renewReason: "never expires" };
  const start = (claims.nbf ?? claims.iat) * 1000;
  const end = claims.exp * 1000;
  if (end - start > validityMs + 1000) return { renewReason: "valid longer than asked" };
  const renewAt = renewalTime(new Date(start), new Date(end));
  if (now.getTime() >= renewAt.getTime()) return { renewReason: "two thirds of its life passed" };
  return { renewAt };
}
