// How Veltrix (operator and sidecar) authenticates to NATS and verifies it: a credentials file (.creds),
// or the chart's mounted credentials Secret (a directory with `creds`, or `user` and
// `password`, or `token`), and TLS (CA, optional client certificate and key, server
// name). Files are read on every (re)connect, so a rotated Secret is picked up without
// a restart; a missing or unreadable file fails the connect with a message naming it.
import { readFileSync } from "node:fs";
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

/** Raised while authenticating: the credentials could not be read. */
export class NatsCredentialsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NatsCredentialsError";
  }
}

function readText(file: string, trim = true): string {
  try {
    const text = readFileSync(file, "utf8");
    return trim ? text.trim() : text;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new NatsCredentialsError(`cannot read NATS credentials ${file} (${why})`, { cause: err });
  }
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
      throw new NatsCredentialsError(`cannot use NATS credentials ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
}

/** The authenticator for the settings, or undefined for none. Decided per connect. */
export function natsAuthenticator(s: NatsClientSettings): Authenticator | undefined {
  if (s.credentialsFile) return credsFile(s.credentialsFile);
  const dir = s.credentialsDir;
  if (!dir) return undefined;
  return (nonce?: string) => {
    if (exists(join(dir, "creds"))) return credsFile(join(dir, "creds"))(nonce);
    if (exists(join(dir, "user")) || exists(join(dir, "password"))) {
      return usernamePasswordAuthenticator(
        readText(join(dir, "user")),
        readText(join(dir, "password")),
      )(nonce);
    }
    if (exists(join(dir, "token"))) return tokenAuthenticator(readText(join(dir, "token")))(nonce);
    throw new NatsCredentialsError(
      `NATS credentials directory ${dir} has none of the keys creds, user and password, token`,
    );
  };
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
