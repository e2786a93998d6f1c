// The NATS decentralised auth of an installation in one Secret (in the operator's namespace):
// what nats-server needs (auth.conf: the operator JWT, the system account, the memory
// resolver with both account JWTs preloaded) and what the operator needs (its own user,
// the account signing key it mints sidecar users with, and the operator signing key, account
// JWT and system user it revokes them with). For the chart's bundled NATS the operator makes
// it at first start (generateNatsAuth; the NATS pod waits for the Secret to mount it); for
// your own NATS you create it with the keys you made with nsc. Identity keys of the operator
// and of the accounts are used once to sign and never stored.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1OwnerReference } from "@kubernetes/client-node";
import type { CoreV1Api } from "../runtime/kube-api.ts";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { createAccount, createOperator, createUser, type KeyPair } from "@nats-io/nkeys";
import { labels, managedByValue } from "../../api/contract.ts";

export const natsAuthKeys = {
  /** nats-server config to `include`: operator, system_account, resolver, resolver_preload. */
  serverConfig: "auth.conf",
  /** Seed of the account signing key sidecar users are minted with. */
  accountSigningKey: "account-signing.nk",
  /** Public key of the account. */
  account: "account.pub",
  /** The account JWT as preloaded (revocations are pushed on top of it). */
  accountJwt: "account.jwt",
  /** Seed of an operator signing key (re-signs the account JWT with revocations). */
  operatorSigningKey: "operator-signing.nk",
  /** The Veltrix operator's own user: the whole account. */
  operatorCreds: "operator.creds",
  /** A system-account user (pushes the account JWT). */
  systemCreds: "system.creds",
} as const;

export type NatsAuthData = Partial<Record<(typeof natsAuthKeys)[keyof typeof natsAuthKeys], string>>;

/** Account limits with JetStream on and nothing capped (a limit left out reads as 0). */
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

async function credsOf(name: string, account: KeyPair): Promise<string> {
  const user = createUser();
  return new TextDecoder().decode(fmtCreds(await encodeUser(name, user, account), user));
}

/** New keys and JWTs for one installation (`name` names the NATS operator and account). */
export async function generateNatsAuth(name = "veltrix"): Promise<Required<NatsAuthData>> {
  const operator = createOperator();
  const operatorSigning = createOperator();
  const system = createAccount();
  const account = createAccount();
  const accountSigning = createAccount();
  const operatorJwt = await encodeOperator(name, operator, {
    system_account: system.getPublicKey(),
    signing_keys: [operatorSigning.getPublicKey()],
  });
  const systemJwt = await encodeAccount(
    "SYS",
    system,
    { limits: { conn: -1, subs: -1, data: -1, payload: -1 } },
    { signer: operator },
  );
  const accountJwt = await encodeAccount(
    name.toUpperCase(),
    account,
    { limits: unlimited, signing_keys: [accountSigning.getPublicKey()] },
    { signer: operator },
  );
  const serverConfig = [
    `operator: ${JSON.stringify(operatorJwt)}`,
    `system_account: ${JSON.stringify(system.getPublicKey())}`,
    "resolver: MEMORY",
    "resolver_preload: {",
    `  ${system.getPublicKey()}: ${JSON.stringify(systemJwt)}`,
    `  ${account.getPublicKey()}: ${JSON.stringify(accountJwt)}`,
    "}",
    "",
  ].join("\n");
  return {
    [natsAuthKeys.serverConfig]: serverConfig,
    [natsAuthKeys.accountSigningKey]: seedOf(accountSigning),
    [natsAuthKeys.account]: account.getPublicKey(),
    [natsAuthKeys.accountJwt]: accountJwt,
    [natsAuthKeys.operatorSigningKey]: seedOf(operatorSigning),
    [natsAuthKeys.operatorCreds]: await credsOf(`${name}-operator`, account),
    [natsAuthKeys.systemCreds]: await credsOf("system", system),
  };
}

/** Writes `data` as one file per key into `dir` (0600); the paths by key. */
export function writeNatsAuthFiles(data: NatsAuthData, dir: string): NatsAuthData {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths: NatsAuthData = {};
  for (const [key, value] of Object.entries(data) as [keyof NatsAuthData, string][]) {
    const path = join(dir, key);
    writeFileSync(path, value, { mode: 0o600 });
    paths[key] = path;
  }
  return paths;
}

const decode = (data: Record<string, string> | undefined): NatsAuthData =>
  Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );

/**
 * The Secret's data; with `generate`, made first when the Secret does not exist (another
 * replica creating it at the same time wins, and its keys are read back).
 */
export async function ensureNatsAuthSecret(
  core: CoreV1Api,
  o: { namespace: string; name: string; generate: boolean; ownerReferences?: V1OwnerReference[] },
): Promise<NatsAuthData> {
  const read = async (): Promise<NatsAuthData | undefined> => {
    try {
      return decode((await core.readNamespacedSecret({ name: o.name, namespace: o.namespace })).data);
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  };
  const have = await read();
  if (have) return have;
  if (!o.generate) throw new Error(`NATS auth Secret ${o.namespace}/${o.name} does not exist`);
  const data = await generateNatsAuth();
  try {
    await core.createNamespacedSecret({
      namespace: o.namespace,
      body: {
        metadata: {
          name: o.name,
          namespace: o.namespace,
          labels: { [labels.managedBy]: managedByValue },
          // Deleted with the operator's Deployment (helm uninstall), like the webhook Secret.
          ...(o.ownerReferences?.length && { ownerReferences: o.ownerReferences }),
        },
        type: "Opaque",
        stringData: data,
      },
    });
    return data;
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
    const theirs = await read();
    if (!theirs) throw err;
    return theirs;
  }
}

/** The operator flags the Secret's files stand for (operator/main.ts fills the empty ones). */
export function natsAuthFlags(paths: NatsAuthData, data: NatsAuthData): Record<string, string> {
  const flags: Record<string, string | undefined> = {
    "nats-credentials": paths[natsAuthKeys.operatorCreds],
    "nats-account-signing-key": paths[natsAuthKeys.accountSigningKey],
    "nats-account": data[natsAuthKeys.account]?.trim(),
    "nats-operator-signing-key": paths[natsAuthKeys.operatorSigningKey],
    "nats-account-jwt": paths[natsAuthKeys.accountJwt],
    "nats-system-credentials": paths[natsAuthKeys.systemCreds],
  };
  return Object.fromEntries(Object.entries(flags).filter((e): e is [string, string] => Boolean(e[1])));
}
