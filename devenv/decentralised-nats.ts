// A real nats-server with NATS decentralised auth, as the operator's minting expects it: the
// keys and JWTs of one installation (operator/nats-identity/nats-auth-secret.ts, what the
// operator makes for the chart's bundled NATS) written to files, and nats-server started with
// their auth.conf (the memory resolver with the accounts preloaded), so the server admits any
// user the account's signing key signs, with no config change or restart.
import { join } from "node:path";
import {
  generateNatsAuth,
  natsAuthKeys,
  writeNatsAuthFiles,
} from "../operator/nats-identity/nats-auth-secret.ts";
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

export async function startDecentralisedNats(opts: {
  dir: string;
  name?: string;
}): Promise<DecentralisedNats> {
  const data = await generateNatsAuth("veltrix-test");
  const files = writeNatsAuthFiles(data, join(opts.dir, "nats-auth"));
  const nats = await startNats({
    dir: opts.dir,
    ...(opts.name && { name: opts.name }),
    extraConfig: data[natsAuthKeys.serverConfig],
  });
  const path = (key: keyof typeof files): string => files[key] ?? "";
  return {
    nats,
    account: data[natsAuthKeys.account],
    accountSigningKeyFile: path(natsAuthKeys.accountSigningKey),
    operatorCredsFile: path(natsAuthKeys.operatorCreds),
    systemCredsFile: path(natsAuthKeys.systemCreds),
    operatorSigningKeyFile: path(natsAuthKeys.operatorSigningKey),
    accountJwtFile: path(natsAuthKeys.accountJwt),
  };
}
