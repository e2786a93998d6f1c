// Decides the webhook's certificates from what the Secret holds now: keep them,
// renew the serving certificate (at two thirds of its life, or when its names
// change), or roll the CA. A new CA enters the caBundle one serving lifetime
// before anything is signed with it, and an old CA stays in the bundle until it
// expires, so no replica ever serves a certificate the API server does not trust.
// Crypto only, no I/O; `now` is passed in.
import {
  createCertificateAuthority,
  describeCertificate,
  isSignedBy,
  issueServingCertificate,
} from "./issue.ts";

export const secretKeys = {
  caCert: "ca.crt",
  caKey: "ca.key",
  nextCaCert: "next-ca.crt",
  nextCaKey: "next-ca.key",
  cert: "tls.crt",
  key: "tls.key",
  bundle: "ca-bundle.crt",
} as const;

export type CertificateData = Partial<Record<(typeof secretKeys)[keyof typeof secretKeys], string>>;

export interface RotationPolicy {
  dnsNames: string[];
  ips?: string[];
  servingValidityMs: number;
  caValidityMs: number;
}

export interface RotationResult {
  data: CertificateData;
  /** Empty when nothing changed. */
  reasons: string[];
}

const msPerDay = 86_400_000;
const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function remainingMs(pem: string, now: Date): number {
  try {
    return describeCertificate(pem).notAfter.getTime() - now.getTime();
  } catch {
    return -1;
  }
}

async function servingProblem(
  data: CertificateData,
  policy: RotationPolicy,
  now: Date,
): Promise<string | undefined> {
  const cert = data[secretKeys.cert];
  const ca = data[secretKeys.caCert];
  if (!cert || !data[secretKeys.key] || !ca) return "no serving certificate";
  let facts;
  try {
    facts = describeCertificate(cert);
  } catch {
    return "serving certificate unreadable";
  }
  const names = [...policy.dnsNames, ...(policy.ips ?? [])].sort().join(",");
  if ([...facts.dnsNames, ...facts.ips].sort().join(",") !== names)
    return "serving certificate names changed";
  if (!(await isSignedBy(cert, ca))) return "serving certificate not signed by the CA";
  if (facts.notAfter.getTime() - now.getTime() < policy.servingValidityMs / 3) {
    return "serving certificate past two thirds of its life";
  }
  return undefined;
}

export function splitBundle(bundle: string | undefined): string[] {
  return bundle?.match(pemBlock) ?? [];
}

export async function rotateCertificates(
  current: CertificateData | undefined,
  policy: RotationPolicy,
  now: Date,
): Promise<RotationResult> {
  const data: CertificateData = { ...current };
  const reasons: string[] = [];
  const newCa = () =>
    createCertificateAuthority(`veltrix-webhook-ca-${now.getTime()}`, policy.caValidityMs / msPerDay, now);

  const caPem = data[secretKeys.caCert];
  if (!caPem || !data[secretKeys.caKey] || remainingMs(caPem, now) < policy.servingValidityMs / 3) {
    // No usable CA (first start, or one that would expire under a fresh serving cert).
    const ca = await newCa();
    data[secretKeys.caCert] = ca.certPem;
    data[secretKeys.caKey] = ca.keyPem;
    delete data[secretKeys.cert];
    reasons.push(caPem ? "CA about to expire" : "no CA");
  } else if (remainingMs(caPem, now) < 2 * policy.servingValidityMs && !data[secretKeys.nextCaCert]) {
    const next = await newCa();
    data[secretKeys.nextCaCert] = next.certPem;
    data[secretKeys.nextCaKey] = next.keyPem;
    reasons.push("next CA published in the bundle");
  }

  const problem = await servingProblem(data, policy, now);
  if (problem) {
    reasons.push(problem);
    const nextCert = data[secretKeys.nextCaCert];
    const nextKey = data[secretKeys.nextCaKey];
    if (nextCert && nextKey) {
      data[secretKeys.caCert] = nextCert;
      data[secretKeys.caKey] = nextKey;
      delete data[secretKeys.nextCaCert];
      delete data[secretKeys.nextCaKey];
      reasons.push("next CA promoted");
    }
    const serving = await issueServingCertificate(
      { certPem: data[secretKeys.caCert]!, keyPem: data[secretKeys.caKey]! },
      { dnsNames: policy.dnsNames, ...(policy.ips && { ips: policy.ips }) },
      policy.servingValidityMs / msPerDay,
      now,
    );
    data[secretKeys.cert] = serving.certPem;
    data[secretKeys.key] = serving.keyPem;
  }

  // Bundle: the CA, the next CA, and every earlier CA that has not expired.
  const bundle: string[] = [];
  const add = (pem: string | undefined) => {
    const trimmed = pem?.trim();
    if (trimmed && !bundle.includes(trimmed) && remainingMs(trimmed, now) > 0) bundle.push(trimmed);
  };
  add(data[secretKeys.caCert]);
  add(data[secretKeys.nextCaCert]);
  for (const pem of splitBundle(current?.[secretKeys.bundle])) add(pem);
  if (current?.[secretKeys.caCert]) add(current[secretKeys.caCert]);
  const text = `${bundle.join("\n")}\n`;
  if (text !== data[secretKeys.bundle]) {
    data[secretKeys.bundle] = text;
    if (reasons.length === 0) reasons.push("expired CA dropped from the bundle");
  }
  return { data, reasons };
}
