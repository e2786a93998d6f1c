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
});
