// Generates a CA and serving certificates for the admission webhook (ECDSA P-256:
// fast to generate, accepted by the API server), and reads them. PEM in, PEM out; no I/O here.
// Reading and verifying use Node's own X509Certificate; @peculiar/x509 is loaded only to
// issue (+8 MiB RSS in the operator when imported: docs/benchmarks.md, "Operator"), so an
// operator that serves a certificate it finds in place (cert-manager's, or the self-managed
// Secret's while it is valid) never loads it.
import { webcrypto, X509Certificate } from "node:crypto";
import type * as X509 from "@peculiar/x509";

let library: Promise<typeof X509> | undefined;

/** @peculiar/x509, loaded on first use (it resolves its services through tsyringe, which needs the Reflect polyfill first). */
function x509Library(): Promise<typeof X509> {
  library ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return library;
}

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

async function exportKeyPem(x509: typeof X509, key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKey(x509: typeof X509, pem: string): Promise<CryptoKey> {
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
  const x509 = await x509Library();
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
  return {
    certPem: cert.toString("pem"),
    keyPem: await exportKeyPem(x509, keys.privateKey),
    notBefore,
    notAfter,
  };
}

/** A serving certificate for `dnsNames` and `ips`, signed by `ca`. */
export async function issueServingCertificate(
  ca: PemPair,
  subject: { dnsNames: string[]; ips?: string[] },
  days: number,
  now = new Date(),
): Promise<IssuedCertificate> {
  const x509 = await x509Library();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKey(x509, ca.keyPem);
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
  return {
    certPem: cert.toString("pem"),
    keyPem: await exportKeyPem(x509, keys.privateKey),
    notBefore,
    notAfter,
  };
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

/** An IPv6 address as RFC 5952 writes it (Node prints SAN addresses in full: 0:0:0:0:0:0:0:1). */
function canonicalIp(ip: string): string {
  if (!ip.includes(":")) return ip;
  const groups = ip
    .toLowerCase()
    .split(":")
    .map((g) => g.replace(/^0+(?=.)/, ""));
  let best = { at: -1, length: 1 };
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j > i ? j : i + 1;
  }
  if (best.at < 0) return groups.join(":");
  const head = groups.slice(0, best.at).join(":");
  const tail = groups.slice(best.at + best.length).join(":");
  return `${head}::${tail}`;
}

/** The names in a subjectAltName as Node prints it: `DNS:a, IP Address:1.2.3.4` (values with separators quoted). */
function altNames(san: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  for (const m of (san ?? "").matchAll(/(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[2] ?? "";
    out.push({ type: m[1] ?? "", value: raw.startsWith('"') ? (JSON.parse(raw) as string) : raw });
  }
  return out;
}

/** Reads what rotation decisions need from a PEM certificate (the first block). */
export function describeCertificate(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  const names = altNames(cert.subjectAltName);
  return {
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    dnsNames: names.filter((n) => n.type === "DNS").map((n) => n.value),
    ips: names.filter((n) => n.type === "IP Address").map((n) => canonicalIp(n.value)),
    subject: cert.subject,
    issuer: cert.issuer,
  };
}

/** Whether `leafPem` was signed by the CA in `caPem`. */
export function isSignedBy(leafPem: string, caPem: string): Promise<boolean> {
  const leaf = new X509Certificate(leafPem);
  const ca = new X509Certificate(caPem);
  return Promise.resolve(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
}
