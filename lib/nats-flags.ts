// The NATS connection flags both programs take, spelled the same in each (the sidecar's
// older --nats, --nats-creds and --nats-creds-dir are deprecated aliases), and the
// settings they make (lib/nats-auth.ts).
import { sidecarEnv } from "../api/injected-pod.ts";
import { flagBoolean, type FlagSpec, type FlagValues } from "./flags.ts";
import type { NatsClientSettings } from "./nats-auth.ts";

export function natsFlags(url: { default: string; doc: string }) {
  return [
    { flag: "nats-url", env: sidecarEnv.natsUrl, value: "URL", ...url, deprecated: ["nats"] },
    {
      flag: "nats-credentials",
      env: sidecarEnv.natsCredentials,
      value: "FILE",
      default: "",
      doc: "NATS credentials file (.creds: user JWT + NKey seed); wins over the directory",
      deprecated: ["nats-creds"],
    },
    {
      flag: "nats-credentials-dir",
      env: sidecarEnv.natsCredentialsDir,
      value: "DIR",
      default: "",
      doc: "mounted Secret with `creds` (a .creds file), or `user` and `password`, or `token`",
      deprecated: ["nats-creds-dir"],
    },
    {
      flag: "nats-tls",
      env: sidecarEnv.natsTls,
      boolean: true,
      default: "false",
      doc: "connect to NATS over TLS (implied by any other --nats-tls-* flag)",
    },
    {
      flag: "nats-tls-ca",
      env: "VELTRIX_NATS_TLS_CA",
      value: "FILE",
      default: "",
      doc: "CA file verifying NATS; the system trust store when empty",
    },
    {
      flag: "nats-tls-cert",
      env: "VELTRIX_NATS_TLS_CERT",
      value: "FILE",
      default: "",
      doc: "client certificate file for mutual TLS (with --nats-tls-key)",
    },
    {
      flag: "nats-tls-key",
      env: "VELTRIX_NATS_TLS_KEY",
      value: "FILE",
      default: "",
      doc: "client key file for mutual TLS (with --nats-tls-cert)",
    },
    {
      flag: "nats-tls-dir",
      env: sidecarEnv.natsTlsDir,
      value: "DIR",
      default: "",
      doc: "mounted Secret or ConfigMap with ca.crt, optionally tls.crt and tls.key; the files above win",
    },
    {
      flag: "nats-tls-server-name",
      env: sidecarEnv.natsTlsServerName,
      value: "NAME",
      default: "",
      doc: "name verified in the NATS certificate; the URL's host when empty",
    },
  ] as const satisfies readonly FlagSpec[];
}

type NatsFlagValues = FlagValues<ReturnType<typeof natsFlags>>;

/** Credentials and TLS for every NATS connection. A certificate without its key fails here, at start. */
export function natsClientSettings(f: NatsFlagValues): NatsClientSettings {
  if (f["nats-tls-cert"] && !f["nats-tls-key"]) throw new Error("--nats-tls-cert needs --nats-tls-key");
  if (f["nats-tls-key"] && !f["nats-tls-cert"]) throw new Error("--nats-tls-key needs --nats-tls-cert");
  return {
    credentialsFile: f["nats-credentials"] || undefined,
    credentialsDir: f["nats-credentials-dir"] || undefined,
    tls: flagBoolean("nats-tls", f["nats-tls"]),
    tlsDir: f["nats-tls-dir"] || undefined,
    tlsCaFile: f["nats-tls-ca"] || undefined,
    tlsCertFile: f["nats-tls-cert"] || undefined,
    tlsKeyFile: f["nats-tls-key"] || undefined,
    tlsServerName: f["nats-tls-server-name"] || undefined,
  };
}
