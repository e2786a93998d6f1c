import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { natsAuthenticator, natsFailureKind, natsTls } from "./nats-auth.ts";

function dirWith(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), "vx-nats-auth-"));
  mkdirSync(d, { recursive: true });
  for (const [k, v] of Object.entries(files)) writeFileSync(join(d, k), v);
  return d;
}

describe("NATS client settings", () => {
  it("picks creds, then user/password, then token from a mounted Secret, read per connect", () => {
    const user = nkeys.createUser();
    const creds = [
      "-----BEGIN NATS USER JWT-----",
      "header.claims.sig",
      "------END NATS USER JWT------",
      "",
      "-----BEGIN USER NKEY SEED-----",
      new TextDecoder().decode(user.getSeed()),
      "------END USER NKEY SEED------",
      "",
    ].join("\n");
    const both = dirWith({ creds, user: "u", password: "p" });
    expect(natsAuthenticator({ credentialsDir: both })?.("nonce")).toMatchObject({
      jwt: "header.claims.sig",
      nkey: user.getPublicKey(),
    });
    const pass = dirWith({ user: "u\n", password: "p\n", token: "t" });
    expect(natsAuthenticator({ credentialsDir: pass })?.("n")).toEqual({ user: "u", pass: "p" });
    const token = dirWith({ token: "t\n" });
    const auth = natsAuthenticator({ credentialsDir: token });
    expect(auth?.("n")).toEqual({ auth_token: "t" });
    writeFileSync(join(token, "token"), "rotated");
    expect(auth?.("n")).toEqual({ auth_token: "rotated" });

    const empty = natsAuthenticator({ credentialsDir: dirWith({}) });
    expect(() => empty?.("n")).toThrow(/has none of the keys creds, user and password, token/);
    expect(natsAuthenticator({})).toBeUndefined();
    const missing = natsAuthenticator({ credentialsFile: "/nonexistent/x.creds" });
    expect(() => missing?.("n")).toThrow(/cannot read NATS credentials \/nonexistent\/x\.creds \(ENOENT\)/);
  });

  it("builds TLS options from files and the mounted Secret, files first", () => {
    expect(natsTls({})).toBeUndefined();
    expect(natsTls({ tls: true })).toEqual({});
    const d = dirWith({ "ca.crt": "x", "tls.crt": "x", "tls.key": "x" });
    expect(natsTls({ tlsDir: d, tlsCaFile: "/ca.pem", tlsServerName: "nats.svc" })).toEqual({
      caFile: "/ca.pem",
      certFile: join(d, "tls.crt"),
      keyFile: join(d, "tls.key"),
      servername: "nats.svc",
    });
    const caOnly = dirWith({ "ca.crt": "x" });
    expect(natsTls({ tlsDir: caOnly })).toEqual({ caFile: join(caOnly, "ca.crt") });
    expect(() => natsTls({ tlsCertFile: "/c.pem" })).toThrow(/needs its key/);
  });

  it("classifies connect failures", () => {
    expect(natsFailureKind(new Error("Authorization Violation"))).toBe("auth");
    const tls = Object.assign(new Error("unable to verify the first certificate"), {
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
    expect(natsFailureKind(new Error("connect failed", { cause: tls }))).toBe("tls");
    expect(natsFailureKind(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(
      "other",
    );
  });
});
