// The sidecar's NATS credentials options: a .creds file, or the webhook's mounted Secret
// directory (the operator's forms, lib/nats-auth.ts), by flag or env.
import { describe, expect, it } from "vitest";
import { parseOptions } from "./options.ts";

describe("sidecar NATS credentials options", () => {
  it("takes the credentials directory from --nats-creds-dir or VELTRIX_NATS_CREDENTIALS_DIR", () => {
    const base = ["--app-port", "8080"];
    expect(parseOptions([...base, "--nats-creds-dir", "/etc/nats"], {}).natsClient).toMatchObject({
      credentialsFile: undefined,
      credentialsDir: "/etc/nats",
    });
    // The webhook's env for the chart's default key.
    const env = { VELTRIX_NATS_CREDENTIALS_DIR: "/etc/veltrix-nats" };
    expect(parseOptions(base, env).natsClient.credentialsDir).toBe("/etc/veltrix-nats");
    // A custom key: the webhook sets the file instead; both may be set, the file wins in nats-auth.ts.
    const both = parseOptions([...base, "--nats-creds", "/x/nats.creds"], env);
    expect(both.natsCredentials).toBe("/x/nats.creds");
    expect(both.natsClient).toMatchObject({
      credentialsFile: "/x/nats.creds",
      credentialsDir: "/etc/veltrix-nats",
    });
    expect(parseOptions(base, {}).natsClient).toMatchObject({
      credentialsFile: undefined,
      credentialsDir: undefined,
    });
  });
});
