import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServingCertificate } from "./issue.ts";
import { MountedCertificates } from "./mounted.ts";

describe("cert-manager mode: mounted certificate", () => {
  const dir = mkdtempSync(join(tmpdir(), "veltrix-mounted-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the pair and hands over a renewed one", async () => {
    const ca = await createCertificateAuthority("cm-ca", 1);
    const first = await issueServingCertificate(ca, { dnsNames: ["svc.ns.svc"] }, 1);
    writeFileSync(join(dir, "tls.crt"), first.certPem);
    writeFileSync(join(dir, "tls.key"), first.keyPem);
    const seen: string[] = [];
    const source = new MountedCertificates({
      dir,
      pollIntervalMs: 20,
      onCertificate: (c) => seen.push(c.certPem),
    });
    const initial = await source.start();
    expect(initial.certPem).toBe(first.certPem);
    expect(initial.notAfter?.getTime()).toBe(first.notAfter.getTime() - (first.notAfter.getTime() % 1000));

    const renewed = await issueServingCertificate(ca, { dnsNames: ["svc.ns.svc"] }, 1);
    writeFileSync(join(dir, "tls.crt"), renewed.certPem);
    writeFileSync(join(dir, "tls.key"), renewed.keyPem);
    // Until the renewal is seen (the test's timeout turns one that never comes into a failure).
    while (seen.length === 0) await sleep(20);
    source.stop();
    expect(seen).toEqual([renewed.certPem]);
  });

  it("never hands over a certificate with another certificate's key", async () => {
    const ca = await createCertificateAuthority("cm-ca", 1);
    const [a, b] = await Promise.all([
      issueServingCertificate(ca, { dnsNames: ["a.ns.svc"] }, 1),
      issueServingCertificate(ca, { dnsNames: ["b.ns.svc"] }, 1),
    ]);
    const mixed = mkdtempSync(join(dir, "mixed-"));
    writeFileSync(join(mixed, "tls.crt"), a.certPem);
    writeFileSync(join(mixed, "tls.key"), b.keyPem);
    const source = new MountedCertificates({ dir: mixed, onCertificate: () => undefined });
    await expect(source.start()).rejects.toThrow(/tls\.key in .* is not the key of tls\.crt/);

    // Started on a matching pair, a half-renewed mount (new certificate, old key) is
    // skipped and the pair is handed over once the key follows.
    writeFileSync(join(mixed, "tls.key"), a.keyPem);
    const seen: string[] = [];
    const unreadable: string[] = [];
    const running = new MountedCertificates({
      dir: mixed,
      pollIntervalMs: 20,
      onCertificate: (c) => seen.push(c.certPem + c.keyPem),
      log: (_message, fields) => unreadable.push(String(fields["error"])),
    });
    await running.start();
    writeFileSync(join(mixed, "tls.crt"), b.certPem);
    // Until a poll has seen the half-renewed pair (the positive control for "skipped").
    while (!unreadable.some((e) => e.includes("is not the key of tls.crt"))) await sleep(20);
    expect(seen).toEqual([]);
    writeFileSync(join(mixed, "tls.key"), b.keyPem);
    while (seen.length === 0) await sleep(20);
    running.stop();
    expect(seen).toEqual([b.certPem + b.keyPem]);
  });
});
