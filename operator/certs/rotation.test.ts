import { describe, expect, it } from "vitest";
import { describeCertificate, isSignedBy } from "./issue.ts";
import { type CertificateData, rotateCertificates, secretKeys, splitBundle } from "./rotation.ts";

const day = 86_400_000;
const policy = {
  dnsNames: ["veltrix.veltrix-system.svc"],
  ips: ["127.0.0.1"],
  servingValidityMs: day,
  caValidityMs: 10 * day,
};

describe("certificate rotation", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");

  it("creates a CA, a serving certificate and the bundle, then keeps them", async () => {
    const first = await rotateCertificates(undefined, policy, t0);
    expect(first.reasons).toContain("no CA");
    const d = first.data;
    expect(await isSignedBy(d[secretKeys.cert]!, d[secretKeys.caCert]!)).toBe(true);
    expect(splitBundle(d[secretKeys.bundle])).toHaveLength(1);
    expect(describeCertificate(d[secretKeys.cert]!).dnsNames).toEqual(policy.dnsNames);

    const later = await rotateCertificates(d, policy, new Date(t0.getTime() + 0.5 * day));
    expect(later.reasons).toEqual([]);
    expect(later.data).toEqual(d);
  });

  it("renews the serving certificate at two thirds of its life and when names change", async () => {
    const { data } = await rotateCertificates(undefined, policy, t0);
    const aged = await rotateCertificates(data, policy, new Date(t0.getTime() + 0.7 * day));
    expect(aged.reasons).toEqual(["serving certificate past two thirds of its life"]);
    expect(aged.data[secretKeys.cert]).not.toBe(data[secretKeys.cert]);
    expect(aged.data[secretKeys.caCert]).toBe(data[secretKeys.caCert]);

    const renamed = await rotateCertificates(data, { ...policy, dnsNames: ["other.svc"] }, t0);
    expect(renamed.reasons).toEqual(["serving certificate names changed"]);
  });

  it("replaces garbage in the Secret", async () => {
    const result = await rotateCertificates(
      { "ca.crt": "junk", "ca.key": "junk", "tls.crt": "x" },
      policy,
      t0,
    );
    expect(await isSignedBy(result.data[secretKeys.cert]!, result.data[secretKeys.caCert]!)).toBe(true);
  });

  it("rolls the CA without ever serving a certificate outside the bundle", async () => {
    let data: CertificateData | undefined;
    const caSerials = new Set<string>();
    let previousServing: string | undefined;
    for (let step = 0; step < 40; step++) {
      const now = new Date(t0.getTime() + step * 0.5 * day);
      data = (await rotateCertificates(data, policy, now)).data;
      const bundle = splitBundle(data[secretKeys.bundle]);
      const serving = data[secretKeys.cert]!;
      // The served certificate and the one served a moment ago (other replicas) are both trusted.
      for (const cert of [serving, previousServing]) {
        if (cert === undefined) continue;
        const trusted = await Promise.all(bundle.map((ca) => isSignedBy(cert, ca)));
        expect(trusted.some(Boolean), `step ${step}`).toBe(true);
      }
      expect(describeCertificate(serving).notAfter.getTime()).toBeGreaterThan(now.getTime() + day / 3);
      caSerials.add(describeCertificate(data[secretKeys.caCert]!).serialNumber);
      previousServing = serving;
    }
    expect(caSerials.size).toBeGreaterThanOrEqual(2);
  });
});
