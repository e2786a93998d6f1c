// A real webhook for integration tests: the server from operator/webhook on a free
// loopback port, self-managed certificates in a real Secret, the caBundle patched
// by the certificate manager into a MutatingWebhookConfiguration registered by URL
// (as test/devenv/webhook-tls.test.ts proves the API server can call). It matches
// only namespaces carrying this instance's label, so other tests are unaffected.
import { randomBytes } from "node:crypto";
import { AdmissionregistrationV1Api, type KubeConfig, VersionApi } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { installCrd } from "../../../devenv/crd.ts";
import { SelfManagedCertificates } from "../../../operator/certs/self-managed.ts";
import { injectionFeaturesFor, type InjectionOptions } from "../../../operator/webhook/config-input.ts";
import { createKubeLookups } from "../../../operator/webhook/kube-lookups.ts";
import { createWebhookMetrics, type WebhookMetrics } from "../../../operator/webhook/metrics.ts";
import { admissionPath, startWebhookServer, type WebhookServer } from "../../../operator/webhook/server.ts";
import { type RunningWebhook, startWebhook } from "../../../operator/webhook/start.ts";
import { createNamespace, kubeConfig } from "../../harness/env.ts";
import { injectionWebhookConfiguration } from "../../../devenv/webhook-config.ts";

export const sidecarImage = "ghcr.io/veltrix/sidecar:test";

export interface TestWebhook {
  /** Label a namespace with this to have its pods sent to this webhook. */
  selector: Record<string, string>;
  server: WebhookServer;
  certs: SelfManagedCertificates;
  metrics: WebhookMetrics;
  registry: Registry;
  certificatesDelivered: () => number;
  close(): Promise<void>;
}

export async function startTestWebhook(
  opts: {
    servingValidityMs?: number;
    checkIntervalMs?: number;
    /** Cluster features as the webhook would detect them on another version (default: this server's). */
    features?: Partial<Pick<InjectionOptions, "nativeSidecars" | "preStopSleep">>;
  } = {},
) {
  const kc = kubeConfig();
  await installCrd(kc);
  const id = randomBytes(4).toString("hex");
  const home = await createNamespace("vx-webhook-home");
  const selector = { "veltrix.test/webhook": id };
  const configName = `veltrix-test-${id}`;
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const registry = new Registry();
  const metrics = createWebhookMetrics(registry);
  const holder: { server?: WebhookServer } = {};
  let delivered = 0;
  const certs = new SelfManagedCertificates({
    kubeConfig: kc,
    namespace: home,
    secretName: "webhook-tls",
    webhookConfigName: configName,
    dnsNames: ["localhost"],
    ips: ["127.0.0.1"],
    servingValidityMs: opts.servingValidityMs ?? 30 * 86_400_000,
    ...(opts.checkIntervalMs !== undefined && { checkIntervalMs: opts.checkIntervalMs }),
    onCertificate: (c) => {
      delivered++;
      holder.server?.setCertificate(c);
    },
  });
  const version = await kc.makeApiClient(VersionApi).getCode();
  const certificate = await certs.start();
  const server = await startWebhookServer({
    host: "127.0.0.1",
    port: 0,
    certificate,
    lookups: createKubeLookups(kc, { defaults: { image: sidecarImage }, cacheTtlMs: 0 }),
    injection: {
      ...injectionFeaturesFor(version.gitVersion),
      ...opts.features,
      nats: {
        url: "nats://nats.veltrix-system.svc:4222",
        credentialsSecret: { name: "veltrix-nats", key: "creds" },
      },
    },
    metrics,
  });
  // Registered without a caBundle, as the chart does; the certificate manager patches it in.
  await admission.createMutatingWebhookConfiguration({
    body: injectionWebhookConfiguration({
      name: configName,
      url: `https://127.0.0.1:${server.port}${admissionPath}`,
      namespaceSelector: selector,
    }),
  });
  holder.server = server;
  // Now that the configuration exists, the next sync patches its caBundle.
  await certs.sync();
  return {
    selector,
    server,
    certs,
    metrics,
    registry,
    certificatesDelivered: () => delivered,
    async close() {
      await certs.stop();
      await admission.deleteMutatingWebhookConfiguration({ name: configName });
      await server.close();
    },
  } satisfies TestWebhook;
}

/**
 * The webhook as `operator/main.ts` starts it in cert-manager mode: serving the
 * certificate mounted in `certDir` (tls.crt, tls.key) on a free loopback port, with
 * the chart's sidecar defaults from `defaultsFile`.
 */
export function startMountedCertWebhook(opts: {
  kubeConfig: KubeConfig;
  certDir: string;
  defaultsFile: string;
  registry?: Registry;
  /** The MutatingWebhookConfiguration it serves (checked for readiness). */
  webhookConfigName?: string;
  readinessIntervalMs?: number;
  warn?: (message: string, fields: Record<string, unknown>) => void;
}): Promise<RunningWebhook | undefined> {
  return startWebhook({
    kubeConfig: opts.kubeConfig,
    registry: opts.registry ?? new Registry(),
    namespace: "veltrix-system",
    natsUrl: "nats://unused:4222",
    log: () => {},
    ...(opts.warn && { warn: opts.warn }),
    ...(opts.readinessIntervalMs !== undefined && { readinessIntervalMs: opts.readinessIntervalMs }),
    flags: {
      "webhook-cert-mode": "certManager",
      "webhook-port": "0",
      "webhook-host": "127.0.0.1",
      "webhook-service": "veltrix",
      "webhook-secret": "unused",
      "webhook-config-name": opts.webhookConfigName ?? "unused",
      "webhook-cert-validity-days": "365",
      "webhook-cert-dir": opts.certDir,
      "sidecar-defaults-file": opts.defaultsFile,
    },
  });
}
