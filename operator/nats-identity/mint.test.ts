import { decode } from "@nats-io/jwt";
import { createAccount, createOperator } from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { sidecarNatsPermissions } from "../../api/contract.ts";
import { accountSigner, mintSidecarUser, sidecarUserName } from "./mint.ts";
import { credentialsVerdict } from "./renewal.ts";

const seed = (k: ReturnType<typeof createAccount>): string => new TextDecoder().decode(k.getSeed());
const ref = { namespace: "shop", name: "checkout" };
const hour = 3_600_000;
const t0 = new Date("2026-12-05T10:00:00Z");

interface Claims {
  iss: string;
  sub: string;
  name: string;
  nbf: number;
  exp: number;
  nats: {
    issuer_account?: string;
    pub: { allow: string[] };
    sub: { allow: string[] };
    bearer_token: boolean;
  };
}

function claimsOf(creds: string): Claims {
  const jwt = /BEGIN NATS USER JWT-----\n(.+)\n/.exec(creds)?.[1] ?? "";
  return decode(jwt) as unknown as Claims;
}

describe("minting a config's sidecar NATS user", () => {
  it("signs with the account signing key a user with exactly the config's permissions and an expiry", async () => {
    const account = createAccount();
    const signing = createAccount();
    const signer = accountSigner(seed(signing), account.getPublicKey());
    const user = await mintSidecarUser(ref, signer, t0, 24 * hour);
    const c = claimsOf(user.creds);
    expect(c.sub).toBe(user.user);
    expect(user.user).toMatch(/^U/);
    expect(c.iss).toBe(signing.getPublicKey());
    expect(c.nats.issuer_account).toBe(account.getPublicKey());
    expect(c.name).toBe(sidecarUserName(ref));
    const p = sidecarNatsPermissions(ref);
    expect(c.nats.pub.allow).toEqual(p.publish);
    expect(c.nats.sub.allow).toEqual(p.subscribe);
    expect(c.nats.bearer_token).toBe(false);
    expect(c.nbf * 1000).toBe(t0.getTime());
    expect(c.exp * 1000).toBe(t0.getTime() + 24 * hour);
    expect(user.creds).toMatch(/BEGIN USER NKEY SEED-----\nSU/);
    // Every user is a new key.
    expect((await mintSidecarUser(ref, signer, t0, hour)).user).not.toBe(user.user);
  });

  it("with the account's own key, no issuer_account", async () => {
    const account = createAccount();
    const user = await mintSidecarUser(ref, accountSigner(seed(account)), t0, hour);
    const c = claimsOf(user.creds);
    expect(c.iss).toBe(account.getPublicKey());
    expect(c.nats.issuer_account).toBeUndefined();
  });

  it("refuses a seed that is not an account's", () => {
    expect(() => accountSigner(new TextDecoder().decode(createOperator().getSeed()))).toThrow(
      /account NKey seed \(SA\.\.\.\), got a O key/,
    );
    expect(() => accountSigner(seed(createAccount()), "nope")).toThrow(/not a NATS account public key/);
  });
});

describe("when a minted user is renewed", () => {
  const account = createAccount();
  const signer = accountSigner(seed(account));

  it("keeps it until two thirds of its life, then renews", async () => {
    const { creds } = await mintSidecarUser(ref, signer, t0, 3 * hour);
    const early = credentialsVerdict(creds, ref, signer, new Date(t0.getTime() + hour), 3 * hour);
    expect(early).toEqual({ renewAt: new Date(t0.getTime() + 2 * hour) });
    const late = credentialsVerdict(creds, ref, signer, new Date(t0.getTime() + 2 * hour), 3 * hour);
    expect(late.renewReason).toBe("two thirds of its life passed");
  });

  it("renews at once what it cannot trust or is not what it would mint now", async () => {
    const { creds } = await mintSidecarUser(ref, signer, t0, 3 * hour);
    const verdict = (c: string | undefined, s = signer, validity = 3 * hour, r = ref) =>
      credentialsVerdict(c, r, s, t0, validity).renewReason;
    expect(verdict(undefined)).toBe("no credentials yet");
    expect(verdict("garbage")).toBe("the credentials cannot be read");
    expect(verdict(creds, accountSigner(seed(createAccount())))).toBe("signed by another key");
    expect(verdict(creds, signer, hour)).toBe("valid longer than asked");
    expect(verdict(creds, signer, 3 * hour, { namespace: "shop", name: "other" })).toBe(
      "permissions changed",
    );
  });
});
