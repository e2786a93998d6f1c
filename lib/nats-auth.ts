// How Veltrix (operator and sidecar) authenticates to NATS and verifies it: a credentials file (.creds),
// or the chart's mounted credentials Secret (a directory with `creds`, or `user` and
// `password`, or `token`), and TLS (CA, optional client certificate and key, server
// name). Files are read on every (re)connect, so a rotated Secret is picked up without
// a restart; a missing, unreadable or malformed file fails the connect with a message
// naming it and what was expected. The sidecar reads the same forms (sidecar/options.ts).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Authenticator,
  credsAuthenticator,
  type NodeConnectionOptions,
  type TlsOptions,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";

export interface NatsClientSettings {
  /** A NATS credentials file (user JWT + NKey seed). */
  credentialsFile?: string | undefined;
  /** A mounted Secret: `creds`, or `user` and `password`, or `token`. The file wins over it. */
  credentialsDir?: string | undefined;
  /** Use TLS even without a CA or client certificate (system trust store). */
  tls?: boolean | undefined;
  /** A mounted Secret: `ca.crt`, optionally `tls.crt` and `tls.key`. The files below win. */
  tlsDir?: string | undefined;
  tlsCaFile?: string | undefined;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
  /** Name verified in the server's certificate (default: the host in the URL). */
  tlsServerName?: string | undefined;
}

/** Raised while authenticating: the credentials could not be read, or are malformed. */
export class NatsCredentialsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NatsCredentialsError";
  }
}

/** What a mounted credentials Secret must hold, for the error messages. */
const natsCredentialsDirExpected = "expected the key creds (a .creds file), or user and password, or token";
const credsExpected =
  "expected a .creds file: a -----BEGIN NATS USER JWT----- block, then a -----BEGIN USER NKEY SEED----- block";

function why(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

function readText(file: string, trim = true): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = why(err);
    const hint = code === "EISDIR" ? "; it is a directory, expected a file" : "";
    throw new NatsCredentialsError(`cannot read NATS credentials ${file} (${code}${hint})`, { cause: err });
  }
  return trim ? text.trim() : text;
}

/** A one-value key of the mounted Secret: not empty and, unless `multiline`, one line. */
function readValue(file: string, what: string, multiline = false): string {
  const value = readText(file);
  if (!value) throw new NatsCredentialsError(`NATS credentials ${file} is empty; expected ${what}`);
  if (!multiline && /[\r\n]/.test(value)) {
    throw new NatsCredentialsError(`NATS credentials ${file} has more than one line; expected ${what}`);
  }
  return value;
}

function exists(file: string): boolean {
  try {
    readFileSync(file);
    return true;
  } catch {
    return false;
  }
}

function credsFile(file: string): Authenticator {
  const inner = credsAuthenticator(() => new TextEncoder().encode(readText(file, false)));
  return (nonce?: string) => {
    try {
      return inner(nonce);
    } catch (err) {
      if (err instanceof NatsCredentialsError) throw err;
      throw new NatsCredentialsError(
        `cannot use NATS credentials ${file}: ${(err as Error).message}; ${credsExpected}`,
        { cause: err },
      );
    }
  };
}

/** The keys of a mounted Secret directory (without the kubelet's `..data` entries). */
function secretKeys(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => !name.startsWith(".."));
  } catch (err) {
    const code = why(err);
    const hint = code === "ENOTDIR" ? "; it is a file, expected a directory (a mounted Secret)" : "";
    throw new NatsCredentialsError(`cannot read NATS credentials directory ${dir} (${code}${hint})`, {
      cause: err,
    });
  }
}

/**
 * The authenticator of a mounted credentials Secret: `creds` (a .creds file), else `user`
 * and `password`, else `token`. Anything else, an empty or multi-line value, or only one of
 * `user` and `password`, fails with a message naming the file and what is expected.
 */
function credentialsDir(dir: string): Authenticator {
  return (nonce?: string) => {
    const keys = secretKeys(dir);
    const file = (key: string) => join(dir, key);
    if (keys.includes("creds")) return credsFile(file("creds"))(nonce);
    const user = keys.includes("user");
    const password = keys.includes("password");
    if (user !== password) {
      const [has, lacks] = user ? ["user", "password"] : ["password", "user"];
      throw new NatsCredentialsError(
        `NATS credentials directory ${dir} has ${has} but no ${lacks}; ${natsCredentialsDirExpected}`,
      );
    }
    if (user) {
      return usernamePasswordAuthenticator(
        readValue(file("user"), "the NATS user name"),
        readValue(file("password"), "the password of the NATS user", true),
      )(nonce);
    }
    if (keys.includes("token")) {
      return tokenAuthenticator(readValue(file("token"), "the NATS token"))(nonce);
    }
    const found = keys.length ? `it has ${keys.sort().join(", ")}` : "it is empty";
    throw new NatsCredentialsError(
      `NATS credentials directory ${dir} has none of the keys creds, user and password, token (${found}); ${natsCredentialsDirExpected}`,
    );
  };
}

/** The authenticator for the settings, or undefined for none. Decided per connect. */
export function natsAuthenticator(s: NatsClientSettings): Authenticator | undefined {
  if (s.credentialsFile) return credsFile(s.credentialsFile);
  return s.credentialsDir ? credentialsDir(s.credentialsDir) : undefined;
}

/** The TLS options for the settings, or undefined when TLS is not asked for. */
export function natsTls(s: NatsClientSettings): (TlsOptions & { servername?: string }) | undefined {
  const fromDir = (name: string): string | undefined =>
    s.tlsDir && exists(join(s.tlsDir, name)) ? join(s.tlsDir, name) : undefined;
  const caFile = s.tlsCaFile || fromDir("ca.crt");
  const certFile = s.tlsCertFile || fromDir("tls.crt");
  const keyFile = s.tlsKeyFile || fromDir("tls.key");
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new Error("NATS TLS: a client certificate needs its key and a key its certificate");
  }
  if (!s.tls && !s.tlsDir && !caFile && !certFile && !s.tlsServerName) return undefined;
  return {
    ...(caFile && { caFile }),
    ...(certFile && { certFile }),
    ...(keyFile && { keyFile }),
    // Passed through to tls.connect by the Node transport.
    ...(s.tlsServerName && { servername: s.tlsServerName }),
  };
}

/** The part of connect()'s options these settings decide. */
export function natsConnectionOptions(
  s: NatsClientSettings,
): Pick<NodeConnectionOptions, "authenticator" | "tls"> {
  const authenticator = natsAuthenticator(s);
  const tls = natsTls(s);
  return { ...(authenticator && { authenticator }), ...(tls && { tls }) };
}

/** The problem with our own credential files behind `err` (the server never saw them), if any. */
export function credentialsFileProblem(err: unknown): NatsCredentialsError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof NatsCredentialsError) return e;
  }
  return undefined;
}

/** Why a connect failed, for a condition reason: credentials, TLS, or anything else. */
export function natsFailureKind(err: unknown): "auth" | "tls" | "other" {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof NatsCredentialsError) return "auth";
    if (e.name === "AuthorizationError" || /authori[sz]ation violation|authentication/i.test(e.message))
      return "auth";
    const code = (e as NodeJS.ErrnoException).code ?? "";
    if (
      /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code) ||
      /\btls\b|certificate|handshake/i.test(e.message)
    )
      return "tls";
  }
  return "other";
}
