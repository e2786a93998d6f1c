import { type Account, decode, encodeAccount } from "@nats-io/jwt";
import { createAccount, createOperator } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { accountOf, accountWithRevocations, liveRevocations } from "./account-claims.ts";

describe("the account JWT with revocations", () => {
  it("keeps the account's claims, sets exactly the revocations, and is signed by the operator signing key", async () => {
    const operator = createOperator();
    const signing = createOperator();
    const account = createAccount();
    const accountSigning = createAccount();
    const limits = { conn: -1, disk_storage: -1, mem_storage: -1, streams: -1, consumer: -1 };
    const base = await encodeAccount(
      "VELTRIX",
      account,
      { limits, signing_keys: [accountSigning.getPublicKey()], revocations: { UOLD: 1 } },
      { signer: operator },
    );
    expect(accountOf(base)).toBe(account.getPublicKey());

    const jwt = await accountWithRevocations(base, { UA: 100, UB: 200 }, signing);
    const c = decode<Account>(jwt);
    expect(c.iss).toBe(signing.getPublicKey());
    expect(c.sub).toBe(account.getPublicKey());
    expect(c.name).toBe("VELTRIX");
    expect(c.nats.limits).toEqual(limits);
    expect(c.nats.signing_keys).toEqual([accountSigning.getPublicKey()]);
    expect(c.nats.revocations).toEqual({ UA: 100, UB: 200 });

    const none = decode<Account>(await accountWithRevocations(base, {}, signing));
    expect(none.nats.revocations).toBeUndefined();
  });
});

describe("which revocations are still needed", () => {
  it("drops users revoked longer ago than a minted user lives, keeps the rest", () => {
    const now = new Date("2026-12-05T12:00:00Z");
    const s = now.getTime() / 1000;
    const day = 86_400_000;
    expect(liveRevocations({ UOLD: s - 2 * 86_400, UNEW: s - 3_600, UNOW: s }, now, day)).toEqual({
      live: { UNEW: s - 3_600, UNOW: s },
      expired: ["UOLD"],
    });
  });
});
