// Readiness that tells the truth about admission: the webhook is only useful when the
// API server calls it, which needs the MutatingWebhookConfiguration it serves to exist
// and its caBundle to hold the CA that issued the certificate being served. This checks
// both, periodically, and gives the reason the operator's /readyz answers 503 with
// (and logs it at warning level when it changes). The judgement is a pure function.
import { X509Certificate } from "node:crypto";
import type { V1MutatingWebhookConfiguration } from "@kubernetes/client-node";
import { AdmissionregistrationV1Api, ApiException, type KubeConnection } from "../runtime/kube-api.ts";

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function issues(bundlePem: string, serving: X509Certificate): boolean {
  for (const pem of bundlePem.match(pemBlock) ?? []) {
    try {
      const ca = new X509Certificate(pem);
      if (serving.checkIssued(ca) && serving.verify(ca.publicKey)) return true;
    } catch {
      // Not a certificate: it issues nothing.
    }
  }
  return false;
}

/**
 * Why the API server cannot call this webhook through `config` (undefined: not found),
 * or undefined when every webhook in it trusts the CA that issued `servingCertPem`.
 */
export function webhookConfigProblem(
  name: string,
  config: V1MutatingWebhookConfiguration | undefined,
  servingCertPem: string,
): string | undefined {
  if (config === undefined) {
    return `MutatingWebhookConfiguration '${name}' not found, so the API server never calls this webhook: set --webhook-config-name to the one the chart installed (kubectl get mutatingwebhookconfigurations)`;
  }
  const webhooks = config.webhooks ?? [];
  if (webhooks.length === 0) return `MutatingWebhookConfiguration '${name}' has no webhooks`;
  const serving = new X509Certificate(servingCertPem);
  for (const w of webhooks) {
    const bundle = w.clientConfig.caBundle;
    if (!bundle) {
      return `webhook '${w.name}' in MutatingWebhookConfiguration '${name}' has no caBundle, so the API server cannot verify this webhook (selfManaged: the operator writes it; certManager: cert-manager's CA injector does)`;
    }
    if (!issues(Buffer.from(bundle, "base64").toString("utf8"), serving)) {
      return `the caBundle of webhook '${w.name}' in MutatingWebhookConfiguration '${name}' does not hold the CA that issued the served certificate, so the API server's calls fail TLS`;
    }
  }
  return undefined;
}

export interface WebhookConfigReadinessOptions {
  kubeConfig: KubeConnection;
  /** The MutatingWebhookConfiguration this webhook serves. */
  name: string;
  /** The certificate being served now (PEM). */
  servingCertPem: () => string;
  /** Self-managed mode: write the caBundle again (the certificate manager's sync) before judging. */
  repair?: () => Promise<unknown>;
  /** Between checks (default 10 s). */
  intervalMs?: number;
  warn: (message: string, fields: Record<string, unknown>) => void;
  info: (message: string, fields: Record<string, unknown>) => void;
}

export class WebhookConfigReadiness {
  private readonly o: WebhookConfigReadinessOptions;
  private readonly admission: AdmissionregistrationV1Api;
  private problem: string | undefined = "the webhook configuration has not been checked yet";
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(o: WebhookConfigReadinessOptions) {
    this.o = o;
    this.admission = new AdmissionregistrationV1Api(o.kubeConfig);
  }

  /** Why the operator is not ready for admission, or undefined when it is. */
  notReadyReason(): string | undefined {
    return this.problem;
  }

  /** Checks now (repairing first in self-managed mode) and returns the reason, if any. */
  async check(): Promise<string | undefined> {
    let problem = await this.judge();
    if (problem !== undefined && this.o.repair) {
      try {
        await this.o.repair();
        problem = await this.judge();
      } catch (err) {
        problem = `${problem} (writing the caBundle failed: ${(err as Error).message})`;
      }
    }
    if (problem !== this.problem) {
      const fields = { webhookConfiguration: this.o.name };
      if (problem === undefined) this.o.info("webhook configuration ready", fields);
      else this.o.warn(`not ready: ${problem}`, fields);
    }
    this.problem = problem;
    return problem;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.check().finally(() => (this.running = undefined));
    }, this.o.intervalMs ?? 10_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async judge(): Promise<string | undefined> {
    let config: V1MutatingWebhookConfiguration | undefined;
    try {
      config = await this.admission.readMutatingWebhookConfiguration({ name: this.o.name });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) {
        const why = err instanceof ApiException ? `HTTP ${err.code}` : (err as Error).message;
        return `cannot read MutatingWebhookConfiguration '${this.o.name}' (${why}), so cannot tell whether the API server calls this webhook`;
      }
    }
    return webhookConfigProblem(this.o.name, config, this.o.servingCertPem());
  }
}
