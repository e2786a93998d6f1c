// A real nats-server with NATS decentralised auth, as the operator's minting expects it: a
// NATS operator, its system account and one application account whose signing key the
// Veltrix operator holds, preloaded in the memory resolver (so the server admits any user
// that account signs, with no config change or restart). Also writes the Veltrix operator's
// own user (the whole account, separate from every sidecar's), a system-account user, and
// an operator signing key, with which the Veltrix operator pushes the account's revocations.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { createAccount, createOperator, createUser, type KeyPair } from "@nats-io/nkeys";
import { type NatsServer, startNats } from "./nats.ts";

export interface DecentralisedNats {
  nats: NatsServer;
  /** Public key of the application account the sidecars' users are minted in. */
  account: string;
  /** File with the seed of the account's signing key (what the operator's flag points at). */
  accountSigningKeyFile: string;
  /** .creds of the Veltrix operator's own user: the whole application account. */
  operatorCredsFile: string;
  /** .creds of a system-account user (account claim pushes, server events). */
  systemCredsFile: string;
  /** File with the seed of an operator signing key (re-signs the account JWT with revocations). */
  operatorSigningKeyFile: string;
  /** File with the application account's JWT, as preloaded. */
  accountJwtFile: string;
}

/** Unlimited account limits, JetStream on (a missing limit reads as 0 to nats-server). */
const unlimited = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

const seedOf = (k: KeyPair): string => new TextDecoder().decode(k.getSeed());

async function writeCreds(file: string, name: string, account: KeyPair): Promise<void> {
  const user = createUser();
  const jwt = await encodeUser(name, user, account);
  writeFileSync(file, fmtCreds(jwt, user), { mode: 0o600 });
}

export async function startDecentralisedNats(opts: {
  dir: string;
  name?: string;
}): Promise<DecentralisedNats> {
  const { dir } = opts;
  const operator = createOperator();
  const operatorSigning = createOperator();
  const system = createAccount();
  const app = createAccount();
  const signing = createAccount();
  const operatorJwt = await encodeOperator("veltrix-test", operator, {
    system_account: system.getPublicKey(),
    signing_keys: [operatorSigning.getPublicKey()],
  });
  const systemJwt = await encodeAccount(
    "SYS",
    system,
    { limits: { conn: -1, subs: -1, data: -1, payload: -1 } },
    {
      signer: operator,
    },
  );
  const appJwt = await encodeAccount(
    "VELTRIX",
    app,
    { limits: unlimited, signing_keys: [signing.getPublicKey()] },
    { signer: operator },
  );
  const accountSigningKeyFile = join(dir, "account-signing.nk");
  writeFileSync(accountSigningKeyFile, seedOf(signing), { mode: 0o600 });
  const operatorSigningKeyFile = join(dir, "operator-signing.nk");
  writeFileSync(operatorSigningKeyFile, seedOf(operatorSigning), { mode: 0o600 });
  const accountJwtFile = join(dir, "account.jwt");
  writeFileSync(accountJwtFile, appJwt);
  const operatorCredsFile = join(dir, "veltrix-operator.creds");
  await writeCreds(operatorCredsFile, "veltrix-operator", app);
  const systemCredsFile = join(dir, "system.creds");
  await writeCreds(systemCredsFile, "system", system);
  const nats = await startNats({
    dir,
    ...(opts.name && { name: opts.name }),
    extraConfig: [
      `operator: ${JSON.stringify(operatorJwt)}`,
      `system_account: ${JSON.stringify(system.getPublicKey())}`,
      "resolver: MEMORY",
      "resolver_preload: {",
      `  ${system.getPublicKey()}: ${JSON.stringify(systemJwt)}`,
      `  ${app.getPublicKey()}: ${JSON.stringify(appJwt)}`,
      "}",
    ].join("\n"),
  });
  return {
    nats,
    account: app.getPublicKey(),
    accountSigningKeyFile,
    operatorCredsFile,
    systemCredsFile,
    operatorSigningKeyFile,
    accountJwtFile,
  };
}
