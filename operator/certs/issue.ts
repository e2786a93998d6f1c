// Generates a CA and serving certificates for the admission webhook (ECDSA P-256:
// fast to generate, accepted by the API server). PEM in, PEM out; no I/O here.
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect polyfill loaded first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;

const keyAlgorithm = { name: "ECDSA", namedCurve: "P-256" } as const;
const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" } as const;

/** The certificate the webhook's HTTPS server serves (reloaded when it changes). */
export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  notAfter?: Date;
}

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface IssuedCertificate extends PemPair {
  notBefore: Date;
  notAfter: Date;
}

const msPerDay = 86_400_000;

function serial(): string {
  // Positive 16-byte serial (RFC 5280 allows up to 20 octets).
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new Error("no PEM block in private key");
  return webcrypto.subtle.importKey("pkcs8", der, keyAlgorithm, true, ["sign"]);
}

/** A self-signed CA valid from one hour ago (clock skew) for `days`. */
export async function createCertificateAuthority(
  commonName: string,
  days: number,
  now = new Date(),
): Promise<IssuedCertificate> {
  const keys = await webcrypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"]);
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + days * msPerDay);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKeyPem(keys.privateKey), notBefore, notAfter };
}

/** A serving certificate for `dnsNames` and `ips`, signed by `ca`. */
export async function issueServingCertificate(
  ca: PemPair,
  subject: { dnsNames: string[]; ips?: string[] },
  days: number,
  now = new Date(),
): Promise<IssuedCertificate> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKey(ca.keyPem);
  const keys = await webcrypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"]);
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + days * msPerDay);
  const altNames = [
    ...subject.dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...(subject.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${subject.dnsNames[0] ?? subject.ips?.[0] ?? "veltrix"}`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(altNames),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKeyPem(keys.privateKey), notBefore, notAfter };
}

export interface CertificateFacts {
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ips: string[];
  subject: string;
  issuer: string;
}

/** Reads what rotation decisions need from a PEM certificate (the first block). */
export function describeCertificate(pem: string): CertificateFacts {
  const cert = new x509.X509Certificate(pem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  return {
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    ips: names.filter((n) => n.type === "ip").map((n) => n.value),
    subject: cert.subject,
    issuer: cert.issuer,
  };
}

/** Whether `leafPem` was signed by the CA in `caPem`. */
export async function isSignedBy(leafPem: string, caPem: string): Promise<boolean> {
  const leaf = new x509.X509Certificate(leafPem);
  const ca = new x509.X509Certificate(caPem);
  return leaf.issuer === ca.subject && (await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true }));
}
