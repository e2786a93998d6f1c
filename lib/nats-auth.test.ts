import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { credsText } from "../devenv/creds.ts";
import { NatsCredentialsError, natsAuthenticator, natsFailureKind, natsTls } from "./nats-auth.ts";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function dirWith(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), "vx-nats-auth-"));
  made.push(d);
  for (const [k, v] of Object.entries(files)) writeFileSync(join(d, k), v);
  return d;
}

describe("NATS client settings", () => {
  it("picks creds, then user/password, then token from a mounted Secret, read per connect", () => {
    const user = nkeys.createUser();
    const creds = credsText(user, "header.claims.sig");
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

  it("says which file is malformed and what the mounted Secret should hold", () => {
    const fails = (settings: Parameters<typeof natsAuthenticator>[0]): string => {
      const auth = natsAuthenticator(settings);
      try {
        auth?.("nonce");
      } catch (err) {
        expect(err).toBeInstanceOf(NatsCredentialsError);
        return (err as Error).message;
      }
      throw new Error("expected the authenticator to fail");
    };
    const expected = "expected the key creds (a .creds file), or user and password, or token";

    // Keys under other names (a common slip: username/pass), or none at all.
    const wrongNames = dirWith({ username: "u", pass: "p" });
    expect(fails({ credentialsDir: wrongNames })).toBe(
      `NATS credentials directory ${wrongNames} has none of the keys creds, user and password, token (it has pass, username); ${expected}`,
    );
    const empty = dirWith({});
    expect(fails({ credentialsDir: empty })).toMatch(/\(it is empty\); expected the key creds/);
    // The kubelet's own entries of a mounted Secret are not keys.
    const mounted = dirWith({ "..data": "x" });
    expect(fails({ credentialsDir: mounted })).toMatch(/\(it is empty\)/);

    // Half a user/password pair.
    const userOnly = dirWith({ user: "u" });
    expect(fails({ credentialsDir: userOnly })).toBe(
      `NATS credentials directory ${userOnly} has user but no password; ${expected}`,
    );
    const passwordOnly = dirWith({ password: "p", token: "t" });
    expect(fails({ credentialsDir: passwordOnly })).toMatch(/has password but no user;/);

    // Empty or multi-line values.
    const emptyToken = dirWith({ token: "\n" });
    expect(fails({ credentialsDir: emptyToken })).toBe(
      `NATS credentials ${join(emptyToken, "token")} is empty; expected the NATS token`,
    );
    const twoLines = dirWith({ token: "a\nb\n" });
    expect(fails({ credentialsDir: twoLines })).toMatch(
      /token has more than one line; expected the NATS token/,
    );
    const emptyPassword = dirWith({ user: "u", password: "" });
    expect(fails({ credentialsDir: emptyPassword })).toMatch(
      /password is empty; expected the password of the NATS user/,
    );

    // A creds key that is not a .creds file, or a seed that is not one.
    const notCreds = dirWith({ creds: "s3cret" });
    expect(fails({ credentialsDir: notCreds })).toBe(
      `cannot use NATS credentials ${join(notCreds, "creds")}: unable to parse credentials; ` +
        "expected a .creds file: a -----BEGIN NATS USER JWT----- block, then a -----BEGIN USER NKEY SEED----- block",
    );
    const badSeed = dirWith({
      creds: credsText(nkeys.createUser()).replace(/\nSU[A-Z0-9]+\n/, "\nSUNOTASEED\n"),
    });
    expect(fails({ credentialsDir: badSeed })).toMatch(
      /cannot use NATS credentials .*\/creds: .*; expected a \.creds file/,
    );

    // A directory where a file is expected, and the reverse; a missing directory.
    expect(fails({ credentialsFile: wrongNames })).toBe(
      `cannot read NATS credentials ${wrongNames} (EISDIR; it is a directory, expected a file)`,
    );
    const file = join(dirWith({ "x.creds": "x" }), "x.creds");
    expect(fails({ credentialsDir: file })).toBe(
      `cannot read NATS credentials directory ${file} (ENOTDIR; it is a file, expected a directory (a mounted Secret))`,
    );
    expect(fails({ credentialsDir: "/nonexistent/nats" })).toBe(
      "cannot read NATS credentials directory /nonexistent/nats (ENOENT)",
    );
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
