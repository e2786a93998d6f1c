// A real nats-server that requires TLS (a CA made by operator/certs/issue.ts) and
// authenticated users: an NKey user whose .creds file the test gets, plus optional
// password users. For tests of how Veltrix connects to a locked-down NATS.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { createCertificateAuthority, issueServingCertificate } from "../operator/certs/issue.ts";
import { credsText } from "./creds.ts";
import { type NatsServer, startNats } from "./nats.ts";

export interface SecureNats {
  nats: NatsServer;
  /** PEM of the CA that signed the server's certificate. */
  caFile: string;
  /** A .creds file for the NKey user the server accepts. */
  credsFile: string;
}

export async function startSecureNats(opts: {
  dir: string;
  credsName: string;
  passwordUsers?: { user: string; password: string }[];
}): Promise<SecureNats> {
  const { dir } = opts;
  const ca = await createCertificateAuthority("veltrix-test-nats-ca", 1);
  const serving = await issueServingCertificate(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] }, 1);
  const caFile = join(dir, "ca.crt");
  writeFileSync(caFile, ca.certPem);
  writeFileSync(join(dir, "server.crt"), serving.certPem);
  writeFileSync(join(dir, "server.key"), serving.keyPem);
  const user = nkeys.createUser();
  const credsFile = join(dir, opts.credsName);
  writeFileSync(credsFile, credsText(user));
  const users = [
    ...(opts.passwordUsers ?? []).map(
      (u) => `{ user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)} }`,
    ),
    `{ nkey: ${JSON.stringify(user.getPublicKey())} }`,
  ];
  const nats = await startNats({
    dir,
    extraConfig: [
      "tls {",
      `  cert_file: ${JSON.stringify(join(dir, "server.crt"))}`,
      `  key_file: ${JSON.stringify(join(dir, "server.key"))}`,
      "}",
      "authorization {",
      `  users = [ ${users.join(", ")} ]`,
      "}",
    ].join("\n"),
  });
  return { nats, caFile, credsFile };
}
