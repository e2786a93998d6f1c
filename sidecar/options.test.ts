// The sidecar's flags: one table (sidecar/options.ts) that parses, documents and warns.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { flagTableMarkdown } from "../lib/flags.ts";
import { parseOptions, sidecarFlags } from "./options.ts";
import { betweenMarkers, tableCells } from "../devenv/markdown.ts";

const base = ["--app-port", "8080"];

describe("sidecar options", () => {
  it("docs/sidecar.md lists every flag with its env variable and default", () => {
    const doc = readFileSync(new URL("../docs/sidecar.md", import.meta.url), "utf8");
    const table = betweenMarkers(doc, "flags");
    expect(tableCells(table), "docs/sidecar.md: paste the generated table between the flags markers").toEqual(
      tableCells(flagTableMarkdown(sidecarFlags)),
    );
  });

  it("takes the credentials directory from --nats-credentials-dir or VELTRIX_NATS_CREDENTIALS_DIR", () => {
    expect(parseOptions([...base, "--nats-credentials-dir", "/etc/nats"], {}).natsClient).toMatchObject({
      credentialsFile: undefined,
      credentialsDir: "/etc/nats",
    });
    // The webhook's env for the chart's default key.
    const env = { VELTRIX_NATS_CREDENTIALS_DIR: "/etc/veltrix-nats" };
    expect(parseOptions(base, env).natsClient.credentialsDir).toBe("/etc/veltrix-nats");
    // A custom key: the webhook sets the file instead; both may be set, the file wins in nats-auth.ts.
    expect(parseOptions([...base, "--nats-credentials", "/x/nats.creds"], env).natsClient).toMatchObject({
      credentialsFile: "/x/nats.creds",
      credentialsDir: "/etc/veltrix-nats",
    });
    expect(parseOptions(base, {}).natsClient).toMatchObject({
      credentialsFile: undefined,
      credentialsDir: undefined,
    });
  });

  it("accepts the old spellings (--nats, --nats-creds, --nats-creds-dir) with a deprecation warning", () => {
    const warnings: string[] = [];
    const o = parseOptions(
      [...base, "--nats", "nats://a:1", "--nats-creds", "/x.creds", "--nats-creds-dir", "/d"],
      {},
      (m) => warnings.push(m),
    );
    expect(o.natsUrl).toBe("nats://a:1");
    expect(o.natsClient).toMatchObject({ credentialsFile: "/x.creds", credentialsDir: "/d" });
    expect(warnings).toEqual([
      "--nats is deprecated and will be removed in the next release; use --nats-url",
      "--nats-creds is deprecated and will be removed in the next release; use --nats-credentials",
      "--nats-creds-dir is deprecated and will be removed in the next release; use --nats-credentials-dir",
    ]);
    const quiet: string[] = [];
    parseOptions([...base, "--nats-url", "nats://a:1"], {}, (m) => quiet.push(m));
    expect(quiet).toEqual([]);
  });

  it("takes switches bare, as true/false, or from their variable", () => {
    expect(parseOptions([...base, "--ensure-stream"], {}).ensureStream).toBe(true);
    expect(parseOptions([...base, "--ensure-stream=false"], {}).ensureStream).toBe(false);
    expect(parseOptions(base, { VELTRIX_ENSURE_STREAM: "1" }).ensureStream).toBe(true);
    expect(parseOptions([...base, "--nats-tls"], {}).natsClient.tls).toBe(true);
    expect(() => parseOptions([...base, "--ensure-stream=maybe"], {})).toThrow(/want true or false/);
  });

  it("names what is wrong: a missing app port, a bad number, an unknown flag", () => {
    expect(() => parseOptions([], {})).toThrow(/--app-port is required/);
    expect(() => parseOptions(["--app-port", "http"], {})).toThrow(/--app-port: want a non-negative integer/);
    expect(() => parseOptions([...base, "--no-such-flag"], {})).toThrow(/Unknown option/);
    expect(parseOptions(base, { VELTRIX_PORT: "19080" }).port).toBe(19080);
    expect(parseOptions([...base, "--port", "18080"], { VELTRIX_PORT: "19080" }).port).toBe(18080);
  });
});
