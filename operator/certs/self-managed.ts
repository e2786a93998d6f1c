// Self-managed webhook certificates: one Secret shared by every replica holds the
// CA and serving certificate. Each replica periodically reads it, rotates what is
// due (rotation.ts; the first writer wins, the others adopt its result on 409),
// patches the caBundle into the MutatingWebhookConfiguration, and only then hands
// the serving certificate to the server, which reloads it in place.
import type { V1OwnerReference, V1Secret } from "@kubernetes/client-node";
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  type KubeConnection,
} from "../runtime/kube-api.ts";
import { hasOwners } from "../runtime/owner.ts";
import type { ServingCertificate } from "./issue.ts";
import { describeCertificate } from "./issue.ts";
import { type CertificateData, rotateCertificates, secretKeys } from "./rotation.ts";

export interface SelfManagedOptions {
  kubeConfig: KubeConnection;
  /** Namespace and name of the Secret (the chart's VELTRIX_NAMESPACE, VELTRIX_WEBHOOK_SECRET). */
  namespace: string;
  secretName: string;
  /** The MutatingWebhookConfiguration whose webhooks get the caBundle (VELTRIX_WEBHOOK_CONFIG_NAME). */
  webhookConfigName: string;
  dnsNames: string[];
  ips?: string[];
  /** Serving certificate validity (renewed at two thirds); the CA lives ten times as long. */
  servingValidityMs: number;
  /** How often the Secret is checked (default: a sixtieth of the validity, at most a minute). */
  checkIntervalMs?: number;
  onCertificate: (certificate: ServingCertificate) => void;
  /** Set on the Secret (the operator's Deployment, so it goes with it; runtime/owner.ts). */
  ownerReferences?: V1OwnerReference[];
  log?: (message: string, fields: Record<string, unknown>) => void;
  now?: () => Date;
}

const isStatus = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;

function decode(secret: V1Secret): CertificateData {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, "base64").toString("utf8");
  return data;
}

function encode(data: CertificateData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) if (v !== undefined) out[k] = Buffer.from(v).toString("base64");
  return out;
}

export class SelfManagedCertificates {
  private readonly options: SelfManagedOptions;
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private served: string | undefined;
  private running: Promise<void> | undefined;

  constructor(options: SelfManagedOptions) {
    this.options = options;
    this.core = new CoreV1Api(options.kubeConfig);
    this.admission = new AdmissionregistrationV1Api(options.kubeConfig);
  }

  /** First sync (throws if it fails: the webhook cannot serve without a certificate), then periodic checks. */
  async start(): Promise<ServingCertificate> {
    const certificate = await this.sync();
    const interval =
      this.options.checkIntervalMs ?? Math.max(1_000, Math.min(60_000, this.options.servingValidityMs / 60));
    this.timer = setInterval(() => {
      this.running ??= this.sync()
        .then(() => undefined)
        .catch((err: unknown) =>
          this.log("certificate check failed; retrying", { error: (err as Error).message }),
        )
        .finally(() => (this.running = undefined));
    }, interval);
    this.timer.unref();
    return certificate;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Reads the Secret, rotates what is due, patches the caBundle, delivers a changed certificate. */
  async sync(): Promise<ServingCertificate> {
    const data = await this.ensureSecret();
    await this.patchCaBundle(data[secretKeys.bundle] ?? "");
    const certificate: ServingCertificate = {
      certPem: data[secretKeys.cert]!,
      keyPem: data[secretKeys.key]!,
      notAfter: describeCertificate(data[secretKeys.cert]!).notAfter,
    };
    if (certificate.certPem !== this.served) {
      this.served = certificate.certPem;
      this.options.onCertificate(certificate);
    }
    return certificate;
  }

  private log(message: string, fields: Record<string, unknown>): void {
    this.options.log?.(message, { secret: this.options.secretName, ...fields });
  }

  private async ensureSecret(): Promise<CertificateData> {
    const { namespace, secretName: name } = this.options;
    const policy = {
      dnsNames: this.options.dnsNames,
      ...(this.options.ips && { ips: this.options.ips }),
      servingValidityMs: this.options.servingValidityMs,
      caValidityMs: 10 * this.options.servingValidityMs,
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      let existing: V1Secret | undefined;
      try {
        existing = await this.core.readNamespacedSecret({ name, namespace });
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
      }
      const current = existing ? decode(existing) : undefined;
      const { data, reasons } = await rotateCertificates(
        current,
        policy,
        (this.options.now ?? (() => new Date()))(),
      );
      const owners = this.options.ownerReferences ?? [];
      // A Secret written before it had an owner (an older operator) gets one now.
      if (existing && !hasOwners(existing.metadata?.ownerReferences, owners)) reasons.push("owner reference");
      if (reasons.length === 0) return data;
      const body: V1Secret = {
        metadata: {
          name,
          namespace,
          labels: {
            "app.kubernetes.io/managed-by": "veltrix-operator",
            "app.kubernetes.io/component": "webhook",
          },
          ...(owners.length > 0 && { ownerReferences: owners }),
          ...(existing?.metadata?.resourceVersion && { resourceVersion: existing.metadata.resourceVersion }),
        },
        type: "kubernetes.io/tls",
        data: encode(data),
      };
      try {
        if (existing) await this.core.replaceNamespacedSecret({ name, namespace, body });
        else await this.core.createNamespacedSecret({ namespace, body });
        this.log("webhook certificates written", { reasons });
        return data;
      } catch (err) {
        // Another replica wrote first: read again and adopt its certificates.
        if (!isStatus(err, 409)) throw err;
      }
    }
    throw new Error(`Secret ${namespace}/${name}: kept conflicting with other writers`);
  }

  private async patchCaBundle(bundle: string): Promise<void> {
    const caBundle = Buffer.from(bundle).toString("base64");
    for (let attempt = 0; attempt < 5; attempt++) {
      let config;
      try {
        config = await this.admission.readMutatingWebhookConfiguration({
          name: this.options.webhookConfigName,
        });
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
        this.log("webhook configuration not found; caBundle not patched yet", {
          webhookConfiguration: this.options.webhookConfigName,
        });
        return;
      }
      const webhooks = config.webhooks ?? [];
      if (webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return;
      for (const w of webhooks) w.clientConfig.caBundle = caBundle;
      try {
        await this.admission.replaceMutatingWebhookConfiguration({
          name: this.options.webhookConfigName,
          body: config,
        });
        this.log("caBundle patched", { webhookConfiguration: this.options.webhookConfigName });
        return;
      } catch (err) {
        if (!isStatus(err, 409)) throw err;
      }
    }
  }
}

/** The names the API server may use for the webhook Service. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}
