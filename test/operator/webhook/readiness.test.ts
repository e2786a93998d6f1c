// Readiness that tells the truth: the operator is not ready while the API server cannot
// call its webhook (the configuration it serves is missing, or its caBundle does not hold
// the CA of the served certificate), says why in /readyz and in a warning-level log line,
// and becomes ready once that is fixed. Real operator process, real API server.
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { AdmissionregistrationV1Api } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServingCertificate } from "../../../operator/certs/issue.ts";
import { installCrd } from "../../../devenv/crd.ts";
import { freePort } from "../../../devenv/ports.ts";
import type { ManagedProcess } from "../../../devenv/process.ts";
import { injectionWebhookConfiguration } from "../../../devenv/webhook-config.ts";
import type { RunningWebhook } from "../../../operator/webhook/start.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { localhostWebhookArgs, operatorProcess } from "../../harness/operator-process.ts";
import { startMountedCertWebhook } from "./webhook-env.ts";

const kc = kubeConfig();
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const b64 = (pem: string) => Buffer.from(pem).toString("base64");

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.text()).trim() };
}

async function setCaBundle(name: string, caBundle: string): Promise<void> {
  const config = await admission.readMutatingWebhookConfiguration({ name });
  for (const w of config.webhooks ?? []) w.clientConfig.caBundle = caBundle;
  await admission.replaceMutatingWebhookConfiguration({ name, body: config });
}

describe("operator readiness follows its webhook configuration", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it("self-managed: not ready while the configuration is missing, ready once it exists and is patched", async () => {
    await installCrd(kc);
    const home = await createNamespace("vx-ready");
    const apps = await createNamespace("vx-ready-apps");
    const name = `veltrix-ready-${Date.now()}`;
    const [httpPort, webhookPort] = [await freePort(), await freePort()];
    const proc: ManagedProcess = operatorProcess({
      name: "op-ready",
      logDir: tempDir("vx-ready"),
      namespace: home,
      watchNamespace: apps,
      httpPort,
      args: localhostWebhookArgs(webhookPort, name),
    });
    cleanup.push(() => proc.stop());
    proc.start();
    await proc.waitUntil("serving /readyz", async () => (await readyz(httpPort)).status > 0);
    const missing = await eventually("a 503 naming the missing configuration", async () => {
      const r = await readyz(httpPort);
      return r.status === 503 && r.body.includes("not found") ? r : undefined;
    });
    expect(missing.body).toBe(
      `MutatingWebhookConfiguration '${name}' not found, so the API server never calls this webhook: set --webhook-config-name to the one the chart installed (kubectl get mutatingwebhookconfigurations)`,
    );
    const warning = proc
      .tail(200)
      .split("\n")
      .filter((l) => l.includes('"level":"warn"') && l.includes("not ready"));
    expect(warning.length, proc.tail(50)).toBeGreaterThanOrEqual(1);
    expect(warning[0]).toContain(`"webhookConfiguration":"${name}"`);

    // The chart's shape: created without a caBundle; the operator writes it and turns ready.
    await admission.createMutatingWebhookConfiguration({
      body: injectionWebhookConfiguration({
        name,
        url: `https://localhost:${webhookPort}/mutate`,
        namespaceSelector: { "veltrix.test/none": name },
      }),
    });
    cleanup.push(() => admission.deleteMutatingWebhookConfiguration({ name }));
    await eventually("ready", async () => ((await readyz(httpPort)).status === 200 ? true : undefined));
    expect((await readyz(httpPort)).body).toBe("ok");

    // Someone resets the caBundle to another CA: the operator writes its own again.
    const stranger = await createCertificateAuthority("stranger", 1);
    await setCaBundle(name, b64(stranger.certPem));
    await eventually("caBundle rewritten", async () => {
      const config = await admission.readMutatingWebhookConfiguration({ name });
      return config.webhooks?.[0]?.clientConfig.caBundle !== b64(stranger.certPem) || undefined;
    });
    expect((await readyz(httpPort)).status).toBe(200);
  });

  it("cert-manager: not ready until the caBundle holds the CA that issued the mounted certificate", async () => {
    const name = `veltrix-ready-cm-${Date.now()}`;
    const dir = tempDir("vx-ready-cm");
    const certDir = join(dir, "tls");
    mkdirSync(certDir);
    const ca = await createCertificateAuthority("cert-manager-ca", 1);
    const serving = await issueServingCertificate(ca, { dnsNames: ["localhost"] }, 1);
    writeFileSync(join(certDir, "tls.crt"), serving.certPem);
    writeFileSync(join(certDir, "tls.key"), serving.keyPem);
    writeFileSync(join(dir, "defaults.json"), "{}");
    await admission.createMutatingWebhookConfiguration({
      body: injectionWebhookConfiguration({
        name,
        url: "https://localhost:1/mutate",
        namespaceSelector: { "veltrix.test/none": name },
      }),
    });
    cleanup.push(() => admission.deleteMutatingWebhookConfiguration({ name }));
    const warnings: string[] = [];
    const running: RunningWebhook | undefined = await startMountedCertWebhook({
      kubeConfig: kc,
      certDir,
      defaultsFile: join(dir, "defaults.json"),
      webhookConfigName: name,
      readinessIntervalMs: 100,
      warn: (message) => warnings.push(message),
    });
    cleanup.push(() => running!.stop());
    expect(running!.notReadyReason()).toBe(
      `webhook 'pod.inject.veltrix.io' in MutatingWebhookConfiguration '${name}' has no caBundle, so the API server cannot verify this webhook (selfManaged: the operator writes it; certManager: cert-manager's CA injector does)`,
    );
    const other = await createCertificateAuthority("other-ca", 1);
    await setCaBundle(name, b64(other.certPem));
    const wrong = await eventually("the wrong CA noticed", () =>
      Promise.resolve(
        running!.notReadyReason()?.includes("does not hold the CA") ? running!.notReadyReason() : undefined,
      ),
    );
    expect(wrong).toBe(
      `the caBundle of webhook 'pod.inject.veltrix.io' in MutatingWebhookConfiguration '${name}' does not hold the CA that issued the served certificate, so the API server's calls fail TLS`,
    );
    // What the CA injector writes: a bundle that holds the issuing CA (among others).
    await setCaBundle(name, b64(`${other.certPem}\n${ca.certPem}`));
    await eventually("ready", () => Promise.resolve(running!.notReadyReason() === undefined || undefined));
    expect(warnings.map((w) => w.split(":")[0])).toEqual(["not ready", "not ready"]);
  });
});
